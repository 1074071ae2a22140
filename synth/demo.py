"""The demo sites: different sizes, seeds and recording habits (OMOP), and a clinical trial
written as CDISC SDTM domains."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from types import MappingProxyType

from hyperfed.synth.spec import Summary, SynthSpec
from hyperfed.synth.writers import write_omop_duckdb

__all__ = ["DEMO_SDTM_SITES", "DEMO_SITES", "write_demo_sites"]

DEMO_SITES: MappingProxyType[str, SynthSpec] = MappingProxyType(
    {
        # A university hospital with an oncology centre: more cancer, US-style units.
        "uni_hospital": SynthSpec(
            persons=20_000,
            seed=101,
            site_name="Hyperfed Demo University Hospital",
            site_abbreviation="HF-UNI",
            cancer_scale=1.5,
        ),
        # A regional clinic with SI units and ICD-10-CM coding habits.
        "regional_clinic": SynthSpec(
            persons=5_000,
            seed=202,
            site_name="Hyperfed Demo Regional Clinic",
            site_abbreviation="HF-REG",
            hemoglobin_g_per_l_share=0.8,
            creatinine_umol_per_l_share=0.9,
            missing_unit_share=0.05,
            icd10cm_source_share=0.3,
        ),
    }
)


# A clinical trial's data transfer: the same kind of population as CDISC SDTM domain files.
DEMO_SDTM_SITES: MappingProxyType[str, SynthSpec] = MappingProxyType(
    {
        "trial": SynthSpec(
            persons=3_000,
            seed=303,
            site_name="Hyperfed Demo Trial",
            site_abbreviation="HF-TRIAL",
            hemoglobin_g_per_l_share=0.5,
            cancer_scale=2.0,
        ),
    }
)


def write_demo_sites(directory: str | PathLike[str], *, replace: bool = True) -> list[Summary]:
    """Write every demo site to `<directory>/<name>.duckdb` (directory created if missing)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_omop_duckdb(spec, out / f"{name}.duckdb", replace=replace)
        for name, spec in DEMO_SITES.items()
    ]
