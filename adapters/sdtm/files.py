"""Which files of a folder are SDTM datasets, and which dataset each one is (pure, by name).

Accepted: `*.xpt` (SAS XPORT), `*.csv`, `*.csv.gz`, in any case, in the folder itself (not in
sub-folders), and `define.xml`. A file's *dataset name* is its stem in upper case (`lb.xpt` ->
`LB`, `LBCH.csv` -> `LBCH`); with the `{partner}_{dataset}` convention of data-transfer
specifications it is the part after the last underscore (`acme_lb.csv.gz` -> `LB`). Which
domain a dataset belongs to is decided later (define.xml, then the name, then the DOMAIN
column): see `domain_from_name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hyperfed.adapters.sdtm.standard import KNOWN_DOMAINS

__all__ = ["DatasetFile", "DatasetFormat", "discover", "domain_from_name", "parse_file_name"]

DatasetFormat = Literal["xpt", "csv"]
_NAME = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")
_PREFERENCE: dict[DatasetFormat, int] = {"xpt": 0, "csv": 1}


@dataclass(frozen=True)
class DatasetFile:
    """One dataset file. `name` is the dataset name (`LBCH`, `SUPPAE`); for a supplemental
    qualifier dataset `parent` is the dataset it qualifies (`LBCH`, `AE`)."""

    path: Path
    file: str  # the file name, as reported
    name: str
    fmt: DatasetFormat
    partner: str | None = None

    @property
    def is_supp(self) -> bool:
        return self.name.startswith("SUPP") and len(self.name) > 4

    @property
    def parent(self) -> str | None:
        return self.name[4:] if self.is_supp else None


def parse_file_name(file_name: str) -> tuple[str, DatasetFormat, str | None] | None:
    """(dataset name, format, partner) of a dataset file name, or None if it is not one."""
    lower = file_name.lower()
    fmt: DatasetFormat
    if lower.endswith(".xpt"):
        stem, fmt = file_name[:-4], "xpt"
    elif lower.endswith(".csv.gz"):
        stem, fmt = file_name[:-7], "csv"
    elif lower.endswith(".csv"):
        stem, fmt = file_name[:-4], "csv"
    else:
        return None
    partner: str | None = None
    if "_" in stem:
        partner, stem = stem.rsplit("_", 1)
        partner = partner or None
    name = stem.upper()
    if not _NAME.match(name):
        return None
    return name, fmt, partner


def domain_from_name(name: str) -> str | None:
    """The domain a dataset name denotes without other evidence: a known domain (`LB`), the
    split dataset of one (`LBCH` -> `LB`), a two-letter name (`XY` -> `XY`); None when the name
    alone does not tell (the DOMAIN column decides)."""
    if name.startswith("SUPP") and len(name) > 4:
        return domain_from_name(name[4:])
    if name in KNOWN_DOMAINS or len(name) == 2:
        return name
    if name[:2] in KNOWN_DOMAINS and name != "RELREC":
        return name[:2]
    return None


def discover(folder: Path) -> tuple[list[DatasetFile], Path | None, list[tuple[str, str]]]:
    """The dataset files of `folder` (one per dataset name: XPT preferred over CSV), its
    define.xml (or None) and the files passed over with the reason."""
    found: dict[str, DatasetFile] = {}
    skipped: list[tuple[str, str]] = []
    define: Path | None = None
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.is_file():
            continue
        if path.name.lower() == "define.xml":
            define = path
            continue
        parsed = parse_file_name(path.name)
        if parsed is None:
            lower = path.name.lower()
            if lower.endswith((".xpt", ".csv", ".csv.gz")):
                skipped.append((path.name, "not a dataset name (1-8 letters and digits)"))
            continue
        name, fmt, partner = parsed
        candidate = DatasetFile(path, path.name, name, fmt, partner)
        other = found.get(name)
        if other is None:
            found[name] = candidate
            continue
        keep, drop = (
            (other, candidate)
            if _PREFERENCE[other.fmt] <= _PREFERENCE[candidate.fmt]
            else (candidate, other)
        )
        found[name] = keep
        skipped.append((drop.file, f"dataset {name} is read from {keep.file}"))
    return sorted(found.values(), key=lambda f: f.name), define, skipped
