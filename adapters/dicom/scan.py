"""Finding the files of a DICOM folder: plain trees, DICOMDIR media and XNAT archives.

- Every regular file under the root is a candidate, except hidden files, the index's own
  files and names with a suffix no DICOM file has (.xml, .json, .txt ...).
- A DICOMDIR is recognised (never indexed as an instance): the files its records reference
  are candidates too, and referenced files that are missing are listed.
- XNAT archive layout `<project>/<subject or arc001>/<session>/SCANS/<n>/DICOM/<file>`: the
  project becomes the file's dataset. Other files get the configured dataset (default: the
  root folder's name).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Candidate", "ScanResult", "scan_folder", "xnat_project"]

SKIP_SUFFIXES = frozenset(
    [
        ".xml",
        ".json",
        ".txt",
        ".csv",
        ".tsv",
        ".parquet",
        ".md",
        ".html",
        ".htm",
        ".pdf",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".nii",
        ".nrrd",
        ".zip",
        ".tar",
        ".log",
        ".tmp",
        ".py",
        ".ini",
        ".toml",
        ".yaml",
        ".yml",
        ".db",
        ".duckdb",
        ".wal",
        ".secret",
    ]
)


@dataclass(frozen=True)
class Candidate:
    path: Path  # absolute
    rel: str  # relative to the root, '/'-separated
    dataset: str


@dataclass
class ScanResult:
    candidates: list[Candidate] = field(default_factory=list)
    dicomdirs: list[str] = field(default_factory=list)  # relative paths of DICOMDIR files
    missing: list[str] = field(default_factory=list)  # referenced by a DICOMDIR, absent
    skipped: int = 0  # names with a non-DICOM suffix


def xnat_project(parts: tuple[str, ...]) -> str | None:
    """The XNAT project of a path (its parts), or None when it is not in an XNAT archive."""
    upper = [p.upper() for p in parts]
    for i in range(len(parts) - 3, 2, -1):
        if upper[i] == "SCANS" and i + 2 < len(parts) and upper[i + 2] in ("DICOM", "SECONDARY"):
            return parts[i - 3] if i >= 3 else None
    return None


def _dicomdir_files(dicomdir: Path) -> list[Path]:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(dicomdir, stop_before_pixels=True)
    out = []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        out.append(dicomdir.parent.joinpath(*[str(p) for p in parts]))
    return out


def _case_insensitive(path: Path) -> Path:
    if path.exists():
        return path
    for variant in (Path(str(path).lower()), path.parent / path.name.lower()):
        if variant.exists():
            return variant
    return path


def scan_folder(root: Path, dataset: str | None = None, exclude: Iterable[Path] = ()) -> ScanResult:
    """The candidate files under `root`, sorted by relative path."""
    root = root.resolve()
    default = dataset or root.name
    excluded = {p.resolve() for p in exclude}
    result = ScanResult()
    seen: set[Path] = set()
    dicomdirs: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or path in excluded or not path.is_file():
                continue
            if name.upper() == "DICOMDIR":
                dicomdirs.append(path)
                continue
            if path.suffix.lower() in SKIP_SUFFIXES:
                result.skipped += 1
                continue
            seen.add(path)
    for dicomdir in dicomdirs:
        result.dicomdirs.append(dicomdir.relative_to(root).as_posix())
        try:
            referenced = _dicomdir_files(dicomdir)
        except Exception:
            seen.add(dicomdir)  # an unreadable DICOMDIR is reported as an unreadable file
            continue
        for ref in referenced:
            ref = _case_insensitive(ref)
            if ref.is_file():
                seen.add(ref.resolve())
            else:
                try:
                    result.missing.append(ref.relative_to(root).as_posix())
                except ValueError:
                    result.missing.append(str(ref))
    for path in sorted(seen):
        rel = path.relative_to(root).as_posix()
        project = xnat_project(path.parts)
        result.candidates.append(Candidate(path, rel, project or default))
    result.candidates.sort(key=lambda c: c.rel)
    return result
