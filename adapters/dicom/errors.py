"""Errors raised by `hyperfed.adapters.dicom` (the tree is drawn in the package docstring)."""

from __future__ import annotations

from hyperfed.adapters import errors as _kit

__all__ = [
    "DicomConfigError",
    "DicomError",
    "IndexWriteError",
    "MappingError",
    "QidoError",
    "QidoTimeout",
    "SourceError",
    "UnknownKeyword",
]


class DicomError(Exception):
    """Base of every error raised by `hyperfed.adapters.dicom`."""


class DicomConfigError(DicomError, ValueError):
    """A configuration value (index options, check limits, a column mapping) is invalid."""


class UnknownKeyword(DicomConfigError):
    """A DICOM attribute keyword is not in the data dictionary (names it and close matches)."""

    def __init__(self, keyword: str, matches: list[str], where: str = "") -> None:
        self.keyword = keyword
        self.matches = matches
        hint = f"; did you mean {', '.join(matches)}?" if matches else ""
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}unknown DICOM keyword {keyword!r}{hint}")


class MappingError(DicomConfigError):
    """A column mapping names a column the Parquet files lack, or an unknown transform."""


class SourceError(DicomError, _kit.SourceError):
    """A DICOM source (folder, Parquet index, DICOMweb URL) cannot be opened or read (names
    it); also the adapter kit's SourceError."""


class IndexWriteError(DicomError):
    """The index or its file state cannot be written (names the file)."""


class QidoError(SourceError):
    """A DICOMweb QIDO-RS request failed (names the URL and the HTTP status or cause)."""


class QidoTimeout(QidoError, _kit.QueryTimeout):
    """The deadline passed before the QIDO-RS search finished (also the kit's QueryTimeout,
    so the node answers `timeout`)."""
