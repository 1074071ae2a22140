"""DICOM tag-index adapter: the series table from DICOM files, existing Parquet indexes and
DICOMweb, with privacy by design and imaging data checks.

Importing this package is cheap: pydicom, DuckDB and httpx are imported by the functions that
need them. Modules:

- `layout`     the series table (SERIES_COLUMNS) and the indexer's file state (FILE_COLUMNS)
- `keywords`   validate_keyword(): a keyword of pydicom's data dictionary, else UnknownKeyword
- `privacy`    keyed pseudonyms, ages, PS3.15 Table E.1-1 (from dicom-anonymizer)
- `headers`    one file's header -> one file-state record
- `scan`       the files of a folder (DICOMDIR, XNAT archive layout)
- `indexer`    build_index(): resumable, parallel, atomic Parquet index
- `mapping`    existing Parquet indexes (NCI IDC) as the series table through a column mapping
- `bodyparts`  SNOMED CT <-> Body Part Examined (CID 4031, PS3.16 Annex L)
- `checks`     imaging data checks; `report` the model-neutral Problem/Report
- `qido`       a QIDO-RS client (httpx): studies/series searches, paging, deadline
- `cli`        the `index-dicom` and `check` commands

Errors::

    DicomError
    ├── DicomConfigError (also ValueError)   an option, limit or mapping field is invalid
    │   ├── UnknownKeyword                   not a DICOM keyword (names it, close matches)
    │   └── MappingError                     a mapping names a missing column or transform
    ├── SourceError                          a folder or Parquet index cannot be read
    ├── IndexWriteError                      the index or its state cannot be written
    └── QidoError                            a DICOMweb request failed (URL, status)
        └── QidoTimeout                      the deadline passed
"""

from hyperfed.adapters.dicom.errors import (
    DicomConfigError,
    DicomError,
    IndexWriteError,
    MappingError,
    QidoError,
    QidoTimeout,
    SourceError,
    UnknownKeyword,
)
from hyperfed.adapters.dicom.keywords import validate_keyword
from hyperfed.adapters.dicom.layout import SERIES_COLUMNS, SERIES_KEYWORD_COLUMNS, SERIES_TABLE
from hyperfed.adapters.dicom.report import Problem, Report

__all__ = [
    "SERIES_COLUMNS",
    "SERIES_KEYWORD_COLUMNS",
    "SERIES_TABLE",
    "DicomConfigError",
    "DicomError",
    "IndexWriteError",
    "MappingError",
    "Problem",
    "QidoError",
    "QidoTimeout",
    "Report",
    "SourceError",
    "UnknownKeyword",
    "validate_keyword",
]
