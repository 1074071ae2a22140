"""The population's imaging as DICOM: a series index (the DICOM adapter's series table) and a
few real DICOM files written with pydicom.

Every imaging procedure of `pop_procedure` (the events the OMOP writer stores in
PROCEDURE_OCCURRENCE) becomes one study on the procedure's date, with one series, or two for
some CTs (a second reconstruction with a sharp kernel and thin slices). So an imaging question
counts the same persons on the OMOP site and on its DICOM twin:

| item | Modality | BodyPartExamined |
|---|---|---|
| ct_chest | CT | CHEST |
| ct | CT | ABDOMEN, HEAD, PELVIS or ABDOMENPELVIS (never a region covering the chest) |
| mri | MR | HEAD, PELVIS, KNEE, LSPINE, BREAST (women) or PROSTATE (men) |
| pet | PT | WHOLEBODY |
| mammography | MG | BREAST |
| chest_xray | DX | CHEST |
| bone_density_scan | BMD | LSPINE or HIP |

Colonoscopy is endoscopy, not a DICOM series. Patient keys are `md5('hf-synth/<seed>/<person_id>')`
(32 hex digits, like the indexer's keyed pseudonyms); UIDs are `2.25.<hash>`; the dataset is
the lower-cased site abbreviation. Everything else (manufacturer, model, slice thickness,
pixel spacing, number of slices, kernel, contrast, field strength) is drawn with the
population's counter-based random numbers, so one spec always gives the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import duckdb

from hyperfed.synth.catalogue import ITEM_NO
from hyperfed.synth.errors import SynthWriteError
from hyperfed.synth.spec import Summary, SynthSpec

__all__ = ["IMAGING", "DicomSummary", "dicom_series_sql", "write_dicom", "write_dicom_files"]

# (item, Modality, SOP class UID): the imaging procedures that become DICOM series
IMAGING: tuple[tuple[str, str, str], ...] = (
    ("ct_chest", "CT", "1.2.840.10008.5.1.4.1.1.2"),
    ("ct", "CT", "1.2.840.10008.5.1.4.1.1.2"),
    ("mri", "MR", "1.2.840.10008.5.1.4.1.1.4"),
    ("pet", "PT", "1.2.840.10008.5.1.4.1.1.128"),
    ("mammography", "MG", "1.2.840.10008.5.1.4.1.1.1.2"),
    ("chest_xray", "DX", "1.2.840.10008.5.1.4.1.1.1.1"),
    ("bone_density_scan", "BMD", "1.2.840.10008.5.1.4.1.1.1.1"),
)
_STREAM = 10 * 2**32  # past hyperfed.synth.population.STREAM's keys (1 .. 9 x 2**32)
_MANUFACTURERS = (
    ("SIEMENS", {"CT": "SOMATOM Force", "MR": "MAGNETOM Skyra", "PT": "Biograph Vision",
                 "MG": "MAMMOMAT Revelation", "DX": "Ysio Max", "BMD": "Ysio Max"}),
    ("GE MEDICAL SYSTEMS", {"CT": "Revolution CT", "MR": "SIGNA Premier", "PT": "Discovery MI",
                            "MG": "Senographe Pristina", "DX": "Definium 656",
                            "BMD": "Lunar iDXA"}),
    ("Philips", {"CT": "IQon Spectral CT", "MR": "Ingenia", "PT": "Vereos",
                 "MG": "MicroDose SI", "DX": "DigitalDiagnost", "BMD": "DigitalDiagnost"}),
    ("CANON_MEC", {"CT": "Aquilion ONE", "MR": "Vantage Orian", "PT": "Cartesion Prime",
                   "MG": "Pe.ru.ru", "DX": "RADREX-i", "BMD": "RADREX-i"}),
)  # fmt: skip
_KERNELS = {  # (soft, sharp) per manufacturer
    "SIEMENS": ("Br40", "Br64"),
    "GE MEDICAL SYSTEMS": ("STANDARD", "LUNG"),
    "Philips": ("B", "L"),
    "CANON_MEC": ("FC08", "FC52"),
}


@dataclass(frozen=True)
class DicomSummary(Summary):
    """A Summary with the persons and studies the series index covers."""

    persons: int = 0
    studies: int = 0

    def format(self) -> str:
        return (
            f"{super().format()}\n  {self.persons:,} persons with imaging, {self.studies:,} studies"
        )


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _case(expr: str, pairs: list[tuple[str, str]], default: str = "NULL") -> str:
    return (
        f"CASE {expr} " + " ".join(f"WHEN {k} THEN {v}" for k, v in pairs) + f" ELSE {default} END"
    )


def _pick(u: str, options: list[str]) -> str:
    n = len(options)
    return _case(f"CAST(floor({u} * {n}) AS INTEGER)", [(str(i), o) for i, o in enumerate(options)])


def dicom_series_sql(spec: SynthSpec) -> str:
    """SELECT of the series table (hyperfed.adapters.dicom.layout.SERIES_COLUMNS, in order)
    over the population views; run it after `generate_population`."""
    items = ", ".join(str(ITEM_NO[i]) for i, _, _ in IMAGING)
    modality = _case("item", [(str(ITEM_NO[i]), _lit(m)) for i, m, _ in IMAGING])
    sop = _case("item", [(str(ITEM_NO[i]), _lit(s)) for i, _, s in IMAGING])
    it = ITEM_NO
    mri_parts = ["'HEAD'", "'PELVIS'", "'KNEE'", "'LSPINE'"]
    mri_parts.append("CASE sex WHEN 'F' THEN 'BREAST' WHEN 'M' THEN 'PROSTATE' END")
    mri_parts = ["'HEAD'", "'PELVIS'", "'KNEE'", "'LSPINE'"]
    mri_parts.append("CASE sex WHEN 'F' THEN 'BREAST' WHEN 'M' THEN 'PROSTATE' END")
    body = _case(
        "item",
        [
            (str(it["ct_chest"]), "'CHEST'"),
            (str(it["chest_xray"]), "'CHEST'"),
            (str(it["mammography"]), "'BREAST'"),
            (str(it["pet"]), "'WHOLEBODY'"),
            (str(it["ct"]), _pick("u1", ["'ABDOMEN'", "'HEAD'", "'PELVIS'", "'ABDOMENPELVIS'"])),
            (str(it["mri"]), _pick("u1", mri_parts)),
            (str(it["bone_density_scan"]), _pick("u1", ["'LSPINE'", "'HIP'"])),
        ],
    )
    makers = [_lit(name) for name, _ in _MANUFACTURERS]
    model = _case(
        "manufacturer",
        [
            (_lit(name), _case("modality", [(_lit(m), _lit(v)) for m, v in models.items()]))
            for name, models in _MANUFACTURERS
        ],
    )
    kernel = _case(
        "manufacturer",
        [(_lit(name), f"CASE WHEN sharp THEN {_lit(k[1])} ELSE {_lit(k[0])} END")
         for name, k in _KERNELS.items()],
    )  # fmt: skip
    ct_thick = _pick("u3", ["1.0e0", "1.25e0", "2.5e0", "5.0e0"])
    thickness = _case(
        "modality",
        [
            ("'CT'", f"CASE WHEN sharp THEN 0.625e0 ELSE {ct_thick} END"),
            ("'MR'", _pick("u3", ["1.0e0", "3.0e0", "4.0e0", "5.0e0"])),
            ("'PT'", _pick("u3", ["2.0e0", "3.0e0", "4.0e0"])),
        ],
    )  # fmt: skip
    spacing = _case(
        "modality",
        [
            ("'CT'", "round(0.55e0 + 0.43e0 * u4, 4)"),
            ("'MR'", "round(0.4e0 + 0.8e0 * u4, 4)"),
            ("'PT'", "round(2.0e0 + 2.1e0 * u4, 4)"),
            ("'MG'", "round(0.07e0 + 0.03e0 * u4, 4)"),
            ("'DX'", "round(0.139e0 + 0.06e0 * u4, 4)"),
            ("'BMD'", "round(0.139e0 + 0.06e0 * u4, 4)"),
        ],
    )
    slices = _case(
        "modality",
        [
            ("'CT'", "CAST(ceil((250 + 200 * u5) / SliceThickness) AS INTEGER)"),
            ("'MR'", "20 + CAST(floor(u5 * 180) AS INTEGER)"),
            ("'PT'", "CAST(ceil((900 + 400 * u5) / SliceThickness) AS INTEGER)"),
            ("'MG'", "1 + CAST(floor(u5 * 4) AS INTEGER)"),
        ],
        "1 + CAST(floor(u5 * 2) AS INTEGER)",
    )
    size = _case(
        "modality",
        [("'CT'", "512"), ("'MR'", "256"), ("'PT'", "200"), ("'MG'", "3328"), ("'DX'", "2048")],
        "1024",
    )
    u = f"hf_u(person_id, {_STREAM} + s * 16777216 + k1 * 64 + k2"
    dataset = _lit(spec.site_abbreviation.lower())
    return f"""WITH ev AS (
  SELECT p.person_id, p.s, p.k1, p.k2, p.item, p.procedure_date AS d, pp.sex, pp.birth_date
  FROM pop_procedure p JOIN pop_person pp USING (person_id)
  WHERE p.item IN ({items})
), st AS (
  SELECT *, {modality} AS modality, {sop} AS sop,
    {u}, 1) AS u1, {u}, 2) AS u2, {u}, 6) AS u6, {u}, 8) AS u8,
    CASE WHEN item IN ({it["ct"]}, {it["ct_chest"]}) AND {u}, 7) < 0.3e0 THEN 2 ELSE 1 END
      AS n_series
  FROM ev
), se AS (
  SELECT *, CAST(unnest(range(n_series)) AS INTEGER) AS series_no FROM st
), dr AS (
  SELECT *, {_pick("u2", makers)} AS manufacturer, series_no = 1 AS sharp,
    {u} + 100 * series_no, 3) AS u3, {u} + 100 * series_no, 4) AS u4,
    {u} + 100 * series_no, 5) AS u5
  FROM se
), vals AS (
  SELECT *, {body} AS body_part, {thickness} AS SliceThickness FROM dr
), fin AS (
  SELECT *, {slices} AS n_slices FROM vals
)
SELECT
  CAST({dataset} AS VARCHAR) AS "dataset",
  md5('hf-synth/{int(spec.seed)}/' || CAST(person_id AS VARCHAR)) AS "person_key",
  '2.25.' || CAST(hash({int(spec.seed)}, person_id, s, k1, k2) AS VARCHAR) AS "StudyInstanceUID",
  '2.25.' || CAST(hash({int(spec.seed)}, person_id, s, k1, k2, series_no + 1000) AS VARCHAR)
    AS "SeriesInstanceUID",
  CAST(modality AS VARCHAR) AS "Modality",
  CAST(body_part AS VARCHAR) AS "BodyPartExamined",
  CAST(manufacturer AS VARCHAR) AS "Manufacturer",
  CAST({model} AS VARCHAR) AS "ManufacturerModelName",
  d AS "StudyDate",
  d AS "SeriesDate",
  CAST(TIME '08:00:00' + to_minutes(CAST(floor(u6 * 540) AS BIGINT) + 7 * series_no) AS TIME)
    AS "SeriesTime",
  CAST(CASE WHEN sex IN ('F', 'M') THEN sex END AS VARCHAR) AS "PatientSex",
  CAST(date_part('year', age(CAST(d AS TIMESTAMP), CAST(birth_date AS TIMESTAMP))) AS INTEGER)
    AS "age_years",
  CAST(year(birth_date) AS INTEGER) AS "birth_year",
  CAST(SliceThickness AS DOUBLE) AS "SliceThickness",
  CAST({spacing} AS DOUBLE) AS "PixelSpacing",
  CAST(CASE WHEN modality = 'CT' THEN {kernel} END AS VARCHAR) AS "ConvolutionKernel",
  CAST(CASE WHEN modality IN ('CT', 'MR') AND u8 < 0.45e0 THEN
    CASE modality WHEN 'CT' THEN 'OMNIPAQUE 350' ELSE 'GADOVIST' END END AS VARCHAR)
    AS "ContrastBolusAgent",
  CAST(CASE WHEN modality IN ('CT', 'MR') THEN u8 < 0.45e0 END AS BOOLEAN)
    AS "contrast",
  CAST(CASE WHEN modality = 'MR' THEN CASE WHEN u3 < 0.6e0 THEN 1.5e0 ELSE 3.0e0 END END
    AS DOUBLE) AS "MagneticFieldStrength",
  CAST(series_no + 1 AS INTEGER) AS "SeriesNumber",
  CAST(sop AS VARCHAR) AS "SOPClassUID",
  CAST({size} AS INTEGER) AS "Rows",
  CAST({size} AS INTEGER) AS "Columns",
  CAST(n_slices AS INTEGER) AS "n_instances",
  CAST(n_slices AS INTEGER) AS "n_frames",
  CAST(NULL AS VARCHAR) AS "StudyDescription",
  CAST(NULL AS VARCHAR) AS "SeriesDescription"
FROM fin
ORDER BY person_id, s, k1, k2, series_no"""


def write_dicom(
    spec: SynthSpec,
    out_dir: str | PathLike[str],
    *,
    files: int = 0,
    instances: int = 3,
    identifying: bool = False,
    threads: int | None = None,
    replace: bool = False,
) -> Summary:
    """Write `out_dir/dicom_series.parquet` (the series index of `spec`'s imaging) and, with
    `files` > 0, real DICOM files of the first `files` series under `out_dir/files/`. An
    existing index (or files folder) makes it fail unless `replace=True`."""
    from hyperfed.synth.writers import generate_population

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "dicom_series.parquet"
    existing = [p.name for p in (target, out / "files") if p.exists()]
    if existing and not replace:
        raise SynthWriteError(
            f"{out} already holds {', '.join(existing)}; pass replace=True (--replace) to overwrite"
        )
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        generate_population(con, spec)
        t_gen = time.perf_counter()
        relation = con.sql(dicom_series_sql(spec))
        tmp = target.with_name(f".{target.name}.tmp")
        relation.write_parquet(str(tmp))
        tmp.replace(target)
        row = con.execute(
            f'SELECT count(*), count(DISTINCT person_key), count(DISTINCT "StudyInstanceUID") '
            f"FROM read_parquet({_lit(str(target))})"
        ).fetchall()[0]
        series, persons, studies = row if row else (0, 0, 0)
        counts = {"dicom_series": int(series)}
        seconds = {"generate": t_gen - started, "write": time.perf_counter() - t_gen}
        if files > 0:
            t0 = time.perf_counter()
            rows = con.execute(
                f"SELECT * FROM read_parquet({_lit(str(target))}) LIMIT {int(files)}"
            ).fetchall()
            names = [d[0] for d in con.description or []]
            written = write_dicom_files(
                [dict(zip(names, r, strict=True)) for r in rows],
                out / "files",
                instances=instances,
                identifying=identifying,
            )
            counts["dicom_files"] = written
            seconds["files"] = time.perf_counter() - t0
    except (duckdb.Error, OSError) as exc:
        raise SynthWriteError(f"writing the DICOM index to {target}: {exc}") from exc
    finally:
        con.close()
    return DicomSummary(
        spec=spec,
        target=str(target),
        row_counts=counts,
        seconds=seconds,
        persons=int(persons),
        studies=int(studies),
    )


def write_dicom_files(
    series: list[dict[str, Any]],
    out_dir: Path,
    *,
    instances: int = 3,
    identifying: bool = False,
) -> int:
    """Write `instances` small DICOM images (8x8, 16-bit) per series row with pydicom, under
    out_dir/<person_key[:12]>/<StudyInstanceUID>/<SeriesInstanceUID>/IM<n>.dcm. The PatientID
    is the row's person_key (index them with ids declared pseudonymous to get the same keys).
    With `identifying`, PatientName and PatientBirthDate are added (for the privacy checks)."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    written = 0
    for row in series:
        folder = (
            out_dir
            / str(row["person_key"])[:12]
            / row["StudyInstanceUID"]
            / row["SeriesInstanceUID"]
        )
        folder.mkdir(parents=True, exist_ok=True)
        n = max(1, min(int(instances), int(row["n_instances"] or 1)))
        for i in range(n):
            sop_uid = generate_uid(entropy_srcs=[row["SeriesInstanceUID"], str(i)])
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = row["SOPClassUID"]
            meta.MediaStorageSOPInstanceUID = sop_uid
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = pydicom.Dataset()
            ds.file_meta = meta
            ds.SOPClassUID = row["SOPClassUID"]
            ds.SOPInstanceUID = sop_uid
            ds.StudyInstanceUID = row["StudyInstanceUID"]
            ds.SeriesInstanceUID = row["SeriesInstanceUID"]
            ds.PatientID = row["person_key"]
            if identifying:
                ds.PatientName = f"SYNTHETIC^{str(row['person_key'])[:8].upper()}"
                ds.PatientBirthDate = f"{row['birth_year'] or 1970}0101"
            ds.PatientSex = row["PatientSex"] or ""
            if row["age_years"] is not None:
                ds.PatientAge = f"{int(row['age_years']):03d}Y"
            ds.Modality = row["Modality"]
            if row["BodyPartExamined"]:
                ds.BodyPartExamined = row["BodyPartExamined"]
            ds.Manufacturer = row["Manufacturer"]
            ds.ManufacturerModelName = row["ManufacturerModelName"]
            ds.StudyDate = row["StudyDate"].strftime("%Y%m%d")
            ds.SeriesDate = row["SeriesDate"].strftime("%Y%m%d")
            ds.StudyTime = "080000"
            ds.SeriesTime = row["SeriesTime"].strftime("%H%M%S")
            ds.SeriesNumber = int(row["SeriesNumber"])
            ds.InstanceNumber = i + 1
            ds.ImagesInAcquisition = n
            if row["SliceThickness"] is not None:
                ds.SliceThickness = f"{row['SliceThickness']:g}"
                ds.ImagePositionPatient = [0, 0, round(i * float(row["SliceThickness"]), 4)]
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            if row["PixelSpacing"] is not None:
                ds.PixelSpacing = [f"{row['PixelSpacing']:g}", f"{row['PixelSpacing']:g}"]
            if row["ConvolutionKernel"]:
                ds.ConvolutionKernel = row["ConvolutionKernel"]
            if row["ContrastBolusAgent"]:
                ds.ContrastBolusAgent = row["ContrastBolusAgent"]
            if row["MagneticFieldStrength"] is not None:
                ds.MagneticFieldStrength = f"{row['MagneticFieldStrength']:g}"
            ds.Rows, ds.Columns = 8, 8
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
            ds.PixelRepresentation = 0
            ds.PixelData = bytes((i * 7 + k) % 256 for k in range(8 * 8 * 2))
            ds.save_as(folder / f"IM{i + 1:04d}.dcm", enforce_file_format=True)
            written += 1
    return written
