"""DICOM tag-index adapter: the federation's queries answered from DICOM data — a folder of
files, an existing Parquet index (NCI IDC's), or a PACS over DICOMweb (QIDO-RS) — with
same-series qualifiers, privacy by design and imaging data checks (README: "DICOM (model `dicom`)").

Importing this package is cheap: pydicom, DuckDB and httpx are imported by the functions that
need them. Modules:

- `adapter`    DicomAdapter (the contract: from_source, compile, run, describe, check,
               query_problems, node_commands) and DicomOptions
- `bindings`   DicomBinding: the ontology's `dicom` binding kind (keyword + values)
- `matching`   what one criterion means on one series (the same-series conditions)
- `sqlplan`    conditions -> DuckDB SQL over the series table (index sources)
- `qidoplan`   conditions -> a plan of QIDO-RS searches; `qidorun` runs it on the node
- `sources`    opening a folder, a Parquet index or a DICOMweb URL
- `layout`     the series table (SERIES_COLUMNS) and the indexer's file state (FILE_COLUMNS)
- `keywords`   validate_keyword(): a keyword of pydicom's data dictionary, else UnknownKeyword
- `privacy`    keyed pseudonyms, ages, PS3.15 Table E.1-1 (from dicom-anonymizer)
- `headers`    one file's header -> one file-state record
- `scan`       the files of a folder (DICOMDIR, XNAT archive layout)
- `indexer`    build_index(): resumable, parallel, atomic Parquet index
- `mapping`    existing Parquet indexes (NCI IDC) as the series table through a column mapping
- `bodyparts`  SNOMED CT <-> Body Part Examined (CID 4031, PS3.16 Annex L)
- `checks`     imaging data checks, on the shared `hyperfed.adapters.checks.Report`
- `qido`       a QIDO-RS client (httpx): studies/series searches, paging, deadline
- `cli`        the `hyperfed node index-dicom` command

Errors::

    DicomError
    ├── DicomConfigError (also ValueError)   an option, limit or mapping field is invalid
    │   ├── UnknownKeyword                   not a DICOM keyword (names it, close matches)
    │   └── MappingError                     a mapping names a missing column or transform
    ├── SourceError (also the kit's          a folder, Parquet index or DICOMweb URL cannot
    │   │   hyperfed.adapters.SourceError)   be opened or read
    │   └── QidoError                        a DICOMweb request failed (URL, status)
    │       └── QidoTimeout (also the kit's  the deadline passed
    │           QueryTimeout, a TimeoutError)
    └── IndexWriteError                      the index or its state cannot be written
"""

from hyperfed.adapters.dicom.adapter import DicomAdapter, DicomOptions
from hyperfed.adapters.dicom.bindings import DicomBinding
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

__all__ = [
    "SERIES_COLUMNS",
    "SERIES_KEYWORD_COLUMNS",
    "SERIES_TABLE",
    "DicomAdapter",
    "DicomBinding",
    "DicomConfigError",
    "DicomError",
    "DicomOptions",
    "IndexWriteError",
    "MappingError",
    "QidoError",
    "QidoTimeout",
    "SourceError",
    "UnknownKeyword",
    "validate_keyword",
]
