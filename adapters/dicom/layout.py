"""The series table: one row per DICOM series, the layout every DICOM source is made to fit.

The node's own index (`index-dicom`), an existing Parquet index seen through a column mapping
(NCI IDC's) and the synthetic generator all produce exactly these columns, so one compiler
queries all of them. Columns named like DICOM keywords hold that attribute's series-level value
(the keyword is the public name a query uses in `attributes`); lower-case columns are derived.

Pure data: no I/O, no pydicom.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FILE_COLUMNS",
    "LAYOUT_VERSION",
    "SERIES_COLUMNS",
    "SERIES_KEYWORD_COLUMNS",
    "SERIES_TABLE",
    "Column",
    "series_column",
]

LAYOUT_VERSION = 1
SERIES_TABLE = "dicom_series"  # the view (or table) name a compiler queries


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    description: str
    keyword: str | None = None  # the DICOM keyword this column holds, if any


SERIES_COLUMNS: tuple[Column, ...] = (
    Column("dataset", "VARCHAR", "dataset: XNAT project, IDC collection or the configured name"),
    Column(
        "person_key",
        "VARCHAR",
        "pseudonymous patient key (HMAC of PatientID with the node secret, or the operator's "
        "pseudonymous id); unique per person within the node; the unit of counting",
    ),
    Column("StudyInstanceUID", "VARCHAR", "study key", "StudyInstanceUID"),
    Column("SeriesInstanceUID", "VARCHAR", "series key (unique per row)", "SeriesInstanceUID"),
    Column("Modality", "VARCHAR", "DICOM modality (DCM code: CT, MR, PT ...)", "Modality"),
    Column(
        "BodyPartExamined",
        "VARCHAR",
        "Body Part Examined defined term, upper case (CHEST, ABDOMEN ...; PS3.16 Annex L)",
        "BodyPartExamined",
    ),
    Column("Manufacturer", "VARCHAR", "equipment manufacturer", "Manufacturer"),
    Column("ManufacturerModelName", "VARCHAR", "equipment model", "ManufacturerModelName"),
    Column("StudyDate", "DATE", "study date", "StudyDate"),
    Column("SeriesDate", "DATE", "series date", "SeriesDate"),
    Column("SeriesTime", "TIME", "series time", "SeriesTime"),
    Column("PatientSex", "VARCHAR", "F, M, O or NULL", "PatientSex"),
    Column(
        "age_years",
        "INTEGER",
        "age in whole years at the study (from PatientAge, else birth date and study date)",
    ),
    Column("birth_year", "INTEGER", "year of birth (never the full birth date)"),
    Column("SliceThickness", "DOUBLE", "nominal slice thickness in mm", "SliceThickness"),
    Column(
        "PixelSpacing",
        "DOUBLE",
        "in-plane pixel spacing in mm: the larger of the row and column spacing",
        "PixelSpacing",
    ),
    Column("ConvolutionKernel", "VARCHAR", "reconstruction kernel(s), joined by '\\'"),
    Column("ContrastBolusAgent", "VARCHAR", "contrast agent as recorded", "ContrastBolusAgent"),
    Column("contrast", "BOOLEAN", "a contrast agent was recorded (NULL when unknown)"),
    Column("MagneticFieldStrength", "DOUBLE", "MR field strength in T", "MagneticFieldStrength"),
    Column("SeriesNumber", "INTEGER", "series number", "SeriesNumber"),
    Column("SOPClassUID", "VARCHAR", "SOP class of the series' instances", "SOPClassUID"),
    Column("Rows", "INTEGER", "image rows", "Rows"),
    Column("Columns", "INTEGER", "image columns", "Columns"),
    Column("n_instances", "INTEGER", "number of instances (files) in the series"),
    Column("n_frames", "INTEGER", "number of frames (slices) over all instances"),
    Column(
        "StudyDescription",
        "VARCHAR",
        "free text: NULL unless the operator enables descriptions",
        "StudyDescription",
    ),
    Column(
        "SeriesDescription",
        "VARCHAR",
        "free text: NULL unless the operator enables descriptions",
        "SeriesDescription",
    ),
)
# ConvolutionKernel keeps its keyword out of the map above only because its column holds all
# values joined; queries on it still use the keyword.
SERIES_KEYWORD_COLUMNS: dict[str, str] = {
    **{c.keyword: c.name for c in SERIES_COLUMNS if c.keyword},
    "ConvolutionKernel": "ConvolutionKernel",
}

# One row per file in the node's own index state (beside the index): what was read from each
# file, already pseudonymised, so a rerun rebuilds series rows without rereading it.
FILE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("path", "VARCHAR"),  # relative to the indexed root
    ("size", "BIGINT"),
    ("mtime_ns", "BIGINT"),
    ("status", "VARCHAR"),  # ok | unreadable | not_dicom
    ("error", "VARCHAR"),
    ("dataset", "VARCHAR"),
    ("person_key", "VARCHAR"),
    ("StudyInstanceUID", "VARCHAR"),
    ("SeriesInstanceUID", "VARCHAR"),
    ("SOPInstanceUID", "VARCHAR"),
    ("Modality", "VARCHAR"),
    ("BodyPartExamined", "VARCHAR"),
    ("Manufacturer", "VARCHAR"),
    ("ManufacturerModelName", "VARCHAR"),
    ("StudyDate", "DATE"),
    ("StudyTime", "TIME"),
    ("SeriesDate", "DATE"),
    ("SeriesTime", "TIME"),
    ("PatientSex", "VARCHAR"),
    ("age_years", "INTEGER"),
    ("birth_year", "INTEGER"),
    ("SliceThickness", "DOUBLE"),
    ("pixel_spacing_row", "DOUBLE"),
    ("pixel_spacing_col", "DOUBLE"),
    ("ConvolutionKernel", "VARCHAR"),
    ("ContrastBolusAgent", "VARCHAR"),
    ("contrast", "BOOLEAN"),
    ("MagneticFieldStrength", "DOUBLE"),
    ("SeriesNumber", "INTEGER"),
    ("SOPClassUID", "VARCHAR"),
    ("Rows", "INTEGER"),
    ("Columns", "INTEGER"),
    ("InstanceNumber", "INTEGER"),
    ("slice_position", "DOUBLE"),  # ImagePositionPatient along the slice normal, mm
    ("ImagesInAcquisition", "INTEGER"),
    ("NumberOfFrames", "INTEGER"),
    ("StudyDescription", "VARCHAR"),
    ("SeriesDescription", "VARCHAR"),
    ("missing", "VARCHAR[]"),  # required attributes absent from the file
    ("identifying", "VARCHAR[]"),  # attributes the confidentiality profile would remove
)


def series_column(name: str) -> Column:
    """The series column called `name` (KeyError naming it and the valid names)."""
    for column in SERIES_COLUMNS:
        if column.name == name:
            return column
    raise KeyError(
        f"no series column {name!r}; columns: {', '.join(c.name for c in SERIES_COLUMNS)}"
    )
