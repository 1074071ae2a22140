"""Finding FHIR input files and fingerprinting them (pure apart from `stat`).

A source is a file or a folder (searched recursively, hidden entries skipped):

- ``*.ndjson`` / ``*.ndjson.gz``: FHIR Bulk Data NDJSON, one resource per line;
- ``*.json`` / ``*.json.gz``: a Bundle (transaction, collection, searchset ...) or one
  resource;
- a Bulk Data export's ``manifest.json`` and ``log.ndjson``, and files with other
  extensions, are ignored (and listed as ignored in the report).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Literal

from hyperfed.adapters.fhir.errors import SourceError

__all__ = ["InputFile", "discover", "fingerprint"]

FileKind = Literal["ndjson", "json"]
_IGNORED_NAMES = {"manifest.json", "log.ndjson", "$export.json"}


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: FileKind
    size: int
    mtime_ns: int


def _kind(path: Path) -> FileKind | None:
    name = path.name.lower()
    if name in _IGNORED_NAMES or name.endswith((".manifest.json", "-manifest.json")):
        return None
    if name.endswith((".ndjson", ".ndjson.gz")):
        return "ndjson"
    if name.endswith((".json", ".json.gz")):
        return "json"
    return None


def discover(source: str | PathLike[str]) -> tuple[list[InputFile], list[str]]:
    """The input files under `source` (sorted) and the names of ignored files."""
    root = Path(source)
    if not root.exists():
        raise SourceError(f"{root}: no such file or folder")
    if root.is_file():
        candidates = [root]
    else:
        candidates = sorted(
            p
            for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
    files, ignored = [], []
    for p in candidates:
        kind = _kind(p)
        if kind is None:
            ignored.append(str(p))
            continue
        st = p.stat()
        files.append(InputFile(p, kind, st.st_size, st.st_mtime_ns))
    if not files:
        raise SourceError(f"{root}: no FHIR files (*.ndjson[.gz], *.json[.gz]) found")
    return files, ignored


def fingerprint(files: list[InputFile], extra: object) -> str:
    """A digest of the files (path, size, mtime) and `extra` (views, loader version ...)."""
    doc = {
        "files": [[str(f.path.resolve()), f.kind, f.size, f.mtime_ns] for f in files],
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
