"""The data-quality check of an SDTM folder (`hyperfed node check --model sdtm`).

`check_folder(path)` loads the folder (serving what it can) and returns a `Report`: the
start-up problems (unreadable files, missing domains, identifying columns dropped) and then,
per file, the problems of `checks_structure` and `checks_values`. It never raises for bad
data: a folder that cannot be read at all is one error in the report.

Codes (severity): missing-domain, unreadable-file, bad-encoding, duplicate-column,
identifying-column, missing-variable, missing-value, domain-empty, domain-mismatch,
duplicate-subject, duplicate-seq, unknown-subject, date-ambiguous, date-impossible,
date-invalid, not-numeric (errors); file-skipped, define-unreadable, unknown-class,
supp-unlinked, date-non-iso, missing-unit, unknown-unit, not-in-codelist (SEX and AGEU outside
their terms are errors), age-unit-missing, identifying-value (warnings).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from hyperfed.adapters.checks import Problem, Report
from hyperfed.adapters.sdtm.checks_base import ROW_LIMIT, Emitter
from hyperfed.adapters.sdtm.checks_structure import check_structure
from hyperfed.adapters.sdtm.checks_values import check_values
from hyperfed.adapters.sdtm.errors import SdtmRefused, SdtmSourceError
from hyperfed.adapters.sdtm.loader import LoadOptions, Study, load_folder

__all__ = ["check_folder", "check_study"]


def _date_facts(study: Study) -> dict[str, int]:
    rows = study.con.execute("SELECT kind, count(*) FROM hf_dtc GROUP BY kind").fetchall()
    return {f"{kind} date values": int(n) for kind, n in sorted(rows)}


def check_study(study: Study, *, limit: int = ROW_LIMIT) -> Report:
    """The full report of a loaded study (its start-up problems included)."""
    report = Report(study.report.source, "sdtm", list(study.report.problems))
    report.facts.update(study.report.facts)
    for note in study.report.notes:
        report.note(note)
    em = Emitter(study.con, report.problems, limit)
    check_structure(em, study)
    check_values(em, study)
    report.facts["distinct date values"] = _date_facts(study)
    if any(p.code == "date-non-iso" for p in report.problems):
        report.note("non-ISO dates that are unambiguous (2019/03/05, 05MAR2019) were read")
    report.note(
        "partial dates denote intervals (2019-03 = 2019-03-01..2019-03-31) and match a window "
        "only when the whole interval lies in it"
    )
    return report


def check_folder(
    source: str | PathLike[str], options: LoadOptions | None = None, *, limit: int = ROW_LIMIT
) -> Report:
    """Load `source` (serving what can be read) and check it; never raises for bad data."""
    opts = options or LoadOptions()
    if opts.on_error == "refuse":
        opts = LoadOptions(
            exclude_arms=opts.exclude_arms,
            required_domains=opts.required_domains,
            csv_encoding=opts.csv_encoding,
            xpt_encoding=opts.xpt_encoding,
            database=opts.database,
        )
    try:
        study = load_folder(source, opts)
    except SdtmSourceError as exc:
        report = Report(str(Path(source)), "sdtm")
        report.add(Problem("error", None, None, None, "unreadable-source", exc.reason))
        return report
    except SdtmRefused as exc:  # pragma: no cover - serve mode never refuses
        return exc.report
    try:
        return check_study(study, limit=limit)
    finally:
        study.close()
