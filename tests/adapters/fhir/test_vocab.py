"""Descendants from an OMOP vocabulary export (Athena CSVs): the codes a FHIR node matches,
against a closure computed in plain Python from the synthetic vocabulary's own hierarchy and
mappings (`hyperfed.synth.vocabulary`: IS_A, MAPS_TO); broken exports; the cache."""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path
from typing import Any

import pytest

from hyperfed.adapters.errors import SourceError
from hyperfed.adapters.fhir import AthenaVocabulary, FhirAdapter
from hyperfed.adapters.fhir.vocab import CodeRef
from hyperfed.adapters.omop.tables import system_for_vocabulary
from hyperfed.hub.prepare import prepare
from hyperfed.ontology import Ontology
from hyperfed.synth import vocabulary as voc
from hyperfed.synth.athena import write_athena_vocabulary
from tests.crossmodel.battery import AS_OF, Question

from .conftest import condition, patient, write_ndjson

SCT, ICD, RX = (
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
)
DCM = "http://dicom.nema.org/resources/ontology/DCM"
Key = tuple[str, str]


def _uri(key: tuple[str, str]) -> Key:
    system = system_for_vocabulary(key[0])
    assert system is not None
    return system, key[1]


def expected(system: str, code: str, descendants: bool) -> set[Key]:
    """The code, its standard codes ('Maps to'), with descendants everything below them (IS_A,
    transitively), and every source code mapping to one of those."""
    parents: dict[Key, set[Key]] = {}
    for child, parent in voc.IS_A:
        parents.setdefault(_uri(child), set()).add(_uri(parent))
    maps = {_uri(a): _uri(b) for a, b in voc.MAPS_TO}
    roots = {maps.get((system, code), (system, code))}
    found = set(roots)
    if descendants:
        changed = True
        while changed:
            below = {c for c, ps in parents.items() if ps & found} - found
            found |= below
            changed = bool(below)
    found |= {a for a, b in maps.items() if b in found}
    return found | {(system, code)}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_athena_vocabulary(tmp_path_factory.mktemp("athena") / "export")[0].parent


@pytest.fixture(scope="module")
def vocab(export: Path) -> Any:
    with contextlib.closing(AthenaVocabulary.open(export)) as v:
        yield v


CODES = [
    (SCT, "363358000", True),  # lung cancer: NSCLC below it, ICD-10-CM C34.90 maps to it
    (SCT, "363358000", False),
    (SCT, "363346000", True),  # malignant neoplastic disease: every cancer
    (ICD, "C34.90", True),  # non-standard: its standard code and what is below
    (ICD, "E11.9", False),
    (SCT, "77477000", True),  # CT: CT of chest below it
    (RX, "40048", True),  # carboplatin
]


@pytest.mark.parametrize(("system", "code", "descendants"), CODES)
def test_expansions(vocab: AthenaVocabulary, system: str, code: str, descendants: bool) -> None:
    ref = CodeRef(system, code, descendants)
    found = vocab.expand({ref})[ref]
    assert set(found.codes) == expected(system, code, descendants)


def test_codes_the_export_cannot_expand_are_noted(vocab: AthenaVocabulary) -> None:
    dcm, unknown = CodeRef(DCM, "CT", True), CodeRef(SCT, "999999999", True)
    found = vocab.expand({dcm, unknown})
    assert found[dcm].codes == {(DCM, "CT")}
    assert found[dcm].notes == (
        "DICOM DCM codes have no OMOP vocabulary: DICOM DCM CT is matched as written, "
        "without descendants",
    )
    assert found[unknown].codes == {(SCT, "999999999")}
    assert "SNOMED CT 999999999 is not in the vocabulary export" in found[unknown].notes[0]
    assert "137 concepts, with Maps to" in vocab.describe()


def test_broken_exports(tmp_path: Path, export: Path) -> None:
    with pytest.raises(SourceError, match="not a folder"):
        AthenaVocabulary.open(tmp_path / "nowhere")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "CONCEPT.csv").write_text((export / "CONCEPT.csv").read_text())
    with pytest.raises(SourceError, match=r"no CONCEPT_ANCESTOR\.csv"):
        AthenaVocabulary.open(partial)
    (partial / "concept_ancestor.csv").write_text("ancestor_concept_id\tsomething_else\n1\t2\n")
    with pytest.raises(
        SourceError, match=r"concept_ancestor\.csv: no column.*descendant_concept_id"
    ):
        AthenaVocabulary.open(partial)


def test_comma_separated_files_and_no_relationships(tmp_path: Path, export: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    for name in ("CONCEPT.csv", "CONCEPT_ANCESTOR.csv"):
        rows = [line.split("\t") for line in (export / name).read_text().splitlines()]
        with (folder / name.lower()).open("w", newline="") as f:
            csv.writer(f).writerows(rows)
    with contextlib.closing(AthenaVocabulary.open(folder)) as v:
        ref = CodeRef(SCT, "363358000", True)
        assert v.expand({ref})[ref].codes == {(SCT, "363358000"), (SCT, "254637007")}
        assert "with Maps to" not in v.describe()


def _icd_only(folder: Path) -> Path:
    folder.mkdir()
    cond = condition("c1", "Patient/p1", code="E11.9")
    cond["code"]["coding"][0]["system"] = ICD  # coded in ICD-10-CM only
    write_ndjson(
        folder / "all.ndjson",
        [json.dumps(patient("p1", "female", "1970")), json.dumps(cond)],
    )
    return folder


def test_source_codes_match_a_standard_query(tmp_path: Path, export: Path) -> None:
    """A Condition coded in ICD-10-CM only counts for SNOMED CT type 2 diabetes (the code an
    OMOP ETL would have given it), with or without descendants; without an export it does not,
    and the result says why."""
    onto = Ontology.load()
    source = str(_icd_only(tmp_path / "icd"))
    cache = tmp_path / "cache" / "store.duckdb"
    t2d = {"code": {"system": SCT, "code": "44054006"}}
    for criteria in (t2d, {**t2d, "descendants": False}):
        prepared = prepare(Question("q", criteria).document(), onto, {"fhir"}, AS_OF)
        with contextlib.closing(
            FhirAdapter.from_source(source, vocabulary=str(export), cache=str(cache))
        ) as a:
            assert a.count(prepared.query, prepared.bindings["fhir"]).total == 1
    prepared = prepare(Question("q", t2d).document(), onto, {"fhir"}, AS_OF)
    with contextlib.closing(FhirAdapter.from_source(source)) as plain:
        result = plain.count(prepared.query, prepared.bindings["fhir"])
    assert result.total == 0
    assert any("descendants of" in n for n in result.notes)
    # the export was read once into a cache beside the store's, then reused
    vocab_cache = cache.with_name("store.duckdb.vocabulary.duckdb")
    assert vocab_cache.exists()
    stamp = vocab_cache.stat().st_mtime_ns
    with contextlib.closing(
        FhirAdapter.from_source(source, vocabulary=str(export), cache=str(cache))
    ):
        pass
    assert vocab_cache.stat().st_mtime_ns == stamp
