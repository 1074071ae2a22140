"""One DICOM file's header -> one record of the file state (the only place that reads files).

`read_header` opens a file with pydicom (headers only: `stop_before_pixels`), keeps the
attributes of `hyperfed.adapters.dicom.layout.FILE_COLUMNS`, pseudonymises on the way (the
PatientID never leaves this function; no name, no birth date, descriptions only when
configured) and lists the attributes the confidentiality profile would remove. It never
raises for a bad file: the record's `status` says `unreadable` or `not_dicom`, `error` why.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from hyperfed.adapters.dicom.privacy import (
    DEFAULT_RETAINED,
    age_years,
    identifying_attributes,
    parse_age,
    person_key,
)

__all__ = ["REQUIRED", "ReadOptions", "parse_da", "parse_tm", "read_header"]

# Attributes a file must have for its series to be indexed (first two) and checked (all).
REQUIRED = ("SeriesInstanceUID", "SOPInstanceUID", "StudyInstanceUID", "Modality", "PatientID")


@dataclass(frozen=True)
class ReadOptions:
    """What `read_header` keeps and how it pseudonymises (picklable, for worker processes)."""

    secret: bytes | None  # None: the PatientIDs are already pseudonymous
    dataset: str = ""
    person_scope: str = "node"  # node | dataset
    keep_descriptions: bool = False
    retained: tuple[str, ...] = DEFAULT_RETAINED
    strict_profile: bool = False
    scan_identifying: bool = True


_DA = re.compile(r"^\s*(\d{4})[.\-]?(\d{2})[.\-]?(\d{2})\s*$")
_TM = re.compile(r"^\s*(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?(?:\.\d+)?\s*$")


def parse_da(value: Any) -> date | None:
    """A DICOM DA value ('20040119', also '2004.01.19' or '2004-01-19') as a date."""
    if value is None:
        return None
    m = _DA.match(str(value))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_tm(value: Any) -> str | None:
    """A DICOM TM value ('153012.123', '1530') as 'HH:MM:SS'."""
    if value is None:
        return None
    m = _TM.match(str(value))
    if not m:
        return None
    h, mi, s = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 60:
        return None
    return f"{h:02d}:{mi:02d}:{min(s, 59):02d}"


def _text(ds: Any, keyword: str, upper: bool = False) -> str | None:
    try:
        value = ds.get(keyword)
    except Exception:
        return None
    if value is None:
        return None
    if not isinstance(value, str) and hasattr(value, "__iter__"):
        text = "\\".join(str(v).strip() for v in value)
    else:
        text = str(value).strip()
    text = text.strip("\\ ")
    if not text:
        return None
    return text.upper() if upper else text


def _floats(ds: Any, keyword: str) -> list[float]:
    try:
        value = ds.get(keyword)
    except Exception:
        return []
    if value is None or value == "":
        return []
    items = value if hasattr(value, "__iter__") and not isinstance(value, str) else [value]
    out = []
    for item in items:
        try:
            number = float(item)
        except (TypeError, ValueError):
            return []
        if not math.isfinite(number):
            return []
        out.append(number)
    return out


def _float(ds: Any, keyword: str) -> float | None:
    values = _floats(ds, keyword)
    return values[0] if values else None


def _int(ds: Any, keyword: str) -> int | None:
    number = _float(ds, keyword)
    if number is None or abs(number) > 2**31 - 1:
        return None
    return int(number)


def _slice_position(ds: Any) -> float | None:
    position = _floats(ds, "ImagePositionPatient")
    if len(position) != 3:
        return _float(ds, "SliceLocation")
    orientation = _floats(ds, "ImageOrientationPatient")
    if len(orientation) != 6:
        return position[2]
    r, c = orientation[:3], orientation[3:]
    normal = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    return round(sum(p * n for p, n in zip(position, normal, strict=True)), 4)


def _sex(ds: Any) -> str | None:
    sex = _text(ds, "PatientSex", upper=True)
    return sex if sex in ("F", "M", "O") else None


def _record(ds: Any, options: ReadOptions) -> dict[str, Any]:
    patient_id = _text(ds, "PatientID")
    study_date = parse_da(_text(ds, "StudyDate"))
    birth = parse_da(_text(ds, "PatientBirthDate"))
    age = parse_age(_text(ds, "PatientAge"))
    if age is None:
        age = age_years(birth, study_date)
    spacing = _floats(ds, "PixelSpacing")
    agent = _text(ds, "ContrastBolusAgent")
    has_agent_seq = "ContrastBolusAgentSequence" in ds
    scope = options.dataset if options.person_scope == "dataset" else ""
    record: dict[str, Any] = {
        "dataset": options.dataset,
        "person_key": (
            person_key(patient_id, options.secret, scope) if patient_id is not None else None
        ),
        "StudyInstanceUID": _text(ds, "StudyInstanceUID"),
        "SeriesInstanceUID": _text(ds, "SeriesInstanceUID"),
        "SOPInstanceUID": _text(ds, "SOPInstanceUID"),
        "Modality": _text(ds, "Modality", upper=True),
        "BodyPartExamined": _text(ds, "BodyPartExamined", upper=True),
        "Manufacturer": _text(ds, "Manufacturer"),
        "ManufacturerModelName": _text(ds, "ManufacturerModelName"),
        "StudyDate": study_date,
        "StudyTime": parse_tm(_text(ds, "StudyTime")),
        "SeriesDate": parse_da(_text(ds, "SeriesDate")),
        "SeriesTime": parse_tm(_text(ds, "SeriesTime")),
        "PatientSex": _sex(ds),
        "age_years": age,
        "birth_year": birth.year if birth is not None else None,
        "SliceThickness": _float(ds, "SliceThickness"),
        "pixel_spacing_row": spacing[0] if len(spacing) == 2 else None,
        "pixel_spacing_col": spacing[1] if len(spacing) == 2 else None,
        "ConvolutionKernel": _text(ds, "ConvolutionKernel"),
        "ContrastBolusAgent": agent,
        "contrast": True if (agent or has_agent_seq) else None,
        "MagneticFieldStrength": _float(ds, "MagneticFieldStrength"),
        "SeriesNumber": _int(ds, "SeriesNumber"),
        "SOPClassUID": _text(ds, "SOPClassUID"),
        "Rows": _int(ds, "Rows"),
        "Columns": _int(ds, "Columns"),
        "InstanceNumber": _int(ds, "InstanceNumber"),
        "slice_position": _slice_position(ds),
        "ImagesInAcquisition": _int(ds, "ImagesInAcquisition"),
        "NumberOfFrames": _int(ds, "NumberOfFrames"),
        "StudyDescription": _text(ds, "StudyDescription") if options.keep_descriptions else None,
        "SeriesDescription": _text(ds, "SeriesDescription") if options.keep_descriptions else None,
    }
    record["missing"] = [k for k in REQUIRED if _text(ds, k) is None]
    if record["StudyDate"] is None:
        record["missing"].append("StudyDate")
    if options.scan_identifying:
        retained = set(options.retained)
        if options.secret is None:
            retained.add("PatientID")
        if options.keep_descriptions:
            retained.update(("StudyDescription", "SeriesDescription"))
        record["identifying"] = identifying_attributes(ds, retained, strict=options.strict_profile)
    else:
        record["identifying"] = []
    return record


def _open(path: Path) -> Any:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        pass
    # no preamble / file meta: accept it only if it parses into something with DICOM keys
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    if "SOPInstanceUID" not in ds and "SeriesInstanceUID" not in ds:
        raise InvalidDicomError("not a DICOM file (no preamble, no SOP/series instance UID)")
    return ds


def read_header(path: Path, options: ReadOptions) -> dict[str, Any]:
    """The file-state record of one file: status ok / unreadable / not_dicom (an error
    message never holds the file's path: folder names are often patient ids)."""
    record = _read_header(path, options)
    if record.get("error"):
        record["error"] = str(record["error"]).replace(str(path), "<file>")
    return record


def _read_header(path: Path, options: ReadOptions) -> dict[str, Any]:
    from pydicom.errors import InvalidDicomError

    base: dict[str, Any] = {"status": "ok", "error": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = _open(path)
        except InvalidDicomError as exc:
            return base | {"status": "not_dicom", "error": str(exc)[:300]}
        except Exception as exc:  # a truncated or corrupt file: listed, never fatal
            return base | {"status": "unreadable", "error": f"{type(exc).__name__}: {exc}"[:300]}
        if (
            getattr(ds, "file_meta", None) is not None
            and str(ds.file_meta.get("MediaStorageSOPClassUID", "")) == "1.2.840.10008.1.3.10"
        ):
            return base | {"status": "not_dicom", "error": "a DICOMDIR (media directory)"}
        try:
            record = _record(ds, options)
        except Exception as exc:
            return base | {"status": "unreadable", "error": f"{type(exc).__name__}: {exc}"[:300]}
    if record["SeriesInstanceUID"] is None or record["SOPInstanceUID"] is None:
        missing = [k for k in ("SeriesInstanceUID", "SOPInstanceUID") if record[k] is None]
        record |= {"status": "unreadable", "error": f"missing {', '.join(missing)}"}
        return record
    return base | record
