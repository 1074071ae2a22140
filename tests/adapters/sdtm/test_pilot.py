"""The CDISC pilot study (CDISCPILOT01) read from XPT + define.xml and from CSV: the layout's
contents against expected values computed with pandas over the CSV copies."""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from hyperfed.adapters.sdtm.checks import check_study
from hyperfed.adapters.sdtm.loader import LoadOptions, Study, load_folder


def _csv(pilot: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(pilot / "csv" / f"{name}.csv.gz", dtype=str, keep_default_na=False)


def _rows(study: Study, sql: str) -> list[tuple[object, ...]]:
    return study.con.execute(sql).fetchall()


def _interval(text: str) -> tuple[dt.date, dt.date] | None:
    """The partial-date rule written independently for ISO YYYY, YYYY-MM, YYYY-MM-DD[T...]."""
    part = text.split("T")[0]
    if not part:
        return None
    bits = [int(x) for x in part.split("-")]
    if len(bits) == 1:
        return dt.date(bits[0], 1, 1), dt.date(bits[0], 12, 31)
    if len(bits) == 2:
        last = calendar.monthrange(bits[0], bits[1])[1]
        return dt.date(bits[0], bits[1], 1), dt.date(bits[0], bits[1], last)
    day = dt.date(bits[0], bits[1], bits[2])
    return day, day


@pytest.mark.parametrize("fmt", ["xpt", "csv"])
def test_subjects_sex_and_age(fmt: str, pilot: Path, study_xpt: Study, study_csv: Study) -> None:
    study = study_xpt if fmt == "xpt" else study_csv
    dm = _csv(pilot, "dm")
    assert study.count("subjects") == dm.USUBJID.nunique() == 306
    expected_sex = dm.groupby("SEX").USUBJID.nunique().to_dict()
    got = dict(_rows(study, "SELECT sex, count(*) FROM subjects GROUP BY sex"))
    assert got == expected_sex
    # AGE in YEARS at RFSTDTC: birth between RFSTDTC - (AGE+1) years + 1 day and RFSTDTC - AGE y
    row = dm[dm.RFSTDTC != ""].iloc[0]
    ref = dt.date.fromisoformat(row.RFSTDTC)
    age = int(row.AGE)
    lo = ref.replace(year=ref.year - age - 1) + dt.timedelta(days=1)
    hi = ref.replace(year=ref.year - age)
    got_row = _rows(
        study,
        f"SELECT age, birth_lo, birth_hi, birth_source FROM subjects "
        f"WHERE usubjid = '{row.USUBJID}'",
    )
    assert got_row == [(float(age), lo, hi, "AGE")]


def test_screen_failures_excluded(pilot_xpt_mb: Path, pilot: Path) -> None:
    dm = _csv(pilot, "dm")
    kept = dm[dm.ARMCD != "Scrnfail"]
    study = load_folder(pilot_xpt_mb, LoadOptions(exclude_arms=("Scrnfail",)))
    try:
        assert study.count("subjects") == kept.USUBJID.nunique() == 254
        ae = _csv(pilot, "ae")
        expected = ae[ae.USUBJID.isin(kept.USUBJID)].shape[0]
        assert _rows(study, "SELECT count(*) FROM events WHERE domain = 'AE'") == [(expected,)]
        assert study.report.facts["subjects excluded by arm"] == 52
    finally:
        study.close()


@pytest.mark.parametrize("fmt", ["xpt", "csv"])
def test_events_by_domain(fmt: str, pilot: Path, study_xpt: Study, study_csv: Study) -> None:
    study = study_xpt if fmt == "xpt" else study_csv
    for name in ("ae", "mh", "ds"):
        frame = _csv(pilot, name)
        got = _rows(
            study,
            f"SELECT count(*), count(DISTINCT usubjid) FROM events WHERE domain = '{name.upper()}'",
        )
        assert got == [(len(frame), frame.USUBJID.nunique())]
    ae = _csv(pilot, "ae")
    nausea = ae[ae.AEDECOD.str.upper() == "NAUSEA"].USUBJID.nunique()
    got = _rows(study, "SELECT count(DISTINCT usubjid) FROM events WHERE decod = 'NAUSEA'")
    assert got == [(nausea,)]


def test_partial_dates_become_intervals(pilot: Path, study_csv: Study) -> None:
    cm = _csv(pilot, "cm")
    expected = sorted(
        (int(r.CMSEQ), r.USUBJID, *(_interval(r.CMSTDTC) or (None, None))) for r in cm.itertuples()
    )
    got = sorted(
        (int(seq), u, lo, hi)  # type: ignore[call-overload]
        for seq, u, lo, hi in _rows(
            study_csv,
            "SELECT seq, usubjid, start_lo, start_hi FROM interventions WHERE domain = 'CM'",
        )
    )
    # CM start: CMSTDTC when filled, else CMDTC
    fallback = {
        (int(r.CMSEQ), r.USUBJID): _interval(r.CMDTC)
        for r in cm.itertuples()
        if r.CMSTDTC == "" and r.CMDTC
    }
    expected = [
        (s, u, *fallback[(s, u)]) if (s, u) in fallback else (s, u, lo, hi)  # type: ignore[misc]
        for s, u, lo, hi in expected
    ]
    assert got == expected
    assert sum(1 for r in cm.itertuples() if len(r.CMSTDTC) in (4, 7)) > 1000


def test_split_lb_and_units(pilot: Path, study_xpt: Study) -> None:
    lb = pd.concat([_csv(pilot, n) for n in ("lbch", "lbhe", "lbur")])
    got = _rows(study_xpt, "SELECT count(*) FROM findings WHERE domain = 'LB'")
    assert got == [(len(lb),)] == [(59580,)]
    hgb = lb[(lb.LBTESTCD == "HGB") & (lb.LBSTRESN != "")]
    expected = sorted(set(hgb.LBSTRESU))
    got_units = _rows(
        study_xpt,
        "SELECT DISTINCT unit, ucum FROM findings WHERE testcd = 'HGB' AND value IS NOT NULL",
    )
    assert sorted(u for u, _ in got_units) == expected
    assert dict(got_units) == {"mmol/L": "mmol/L"}
    wbc = _rows(
        study_xpt, "SELECT DISTINCT ucum FROM findings WHERE testcd = 'WBC' AND unit = '10^9/L'"
    )
    assert wbc == [("10*9/L",)]
    low = hgb[hgb.LBSTRESN.astype(float) < 7.0].USUBJID.nunique()
    got_low = _rows(
        study_xpt,
        "SELECT count(DISTINCT usubjid) FROM findings WHERE testcd = 'HGB' AND value < 7.0",
    )
    assert got_low == [(low,)]


def test_vital_signs_in_ucum(pilot: Path, study_csv: Study) -> None:
    vs = _csv(pilot, "vs")
    sys = vs[(vs.VSTESTCD == "SYSBP") & (vs.VSSTRESN != "")]
    high = sys[sys.VSSTRESN.astype(float) >= 160].USUBJID.nunique()
    got = _rows(
        study_csv,
        "SELECT count(DISTINCT usubjid) FROM findings "
        "WHERE testcd = 'SYSBP' AND ucum = 'mm[Hg]' AND value >= 160",
    )
    assert got == [(high,)]


def test_microbiology_from_pharmaverse(pilot: Path, study_xpt: Study) -> None:
    mb = pd.read_csv(pilot / "pharmaversesdtm_mb_ms" / "mb.csv", dtype=str, keep_default_na=False)
    got = _rows(
        study_xpt, "SELECT count(*), count(DISTINCT usubjid) FROM findings WHERE domain = 'MB'"
    )
    assert got == [(len(mb), mb.USUBJID.nunique())]


def test_supplemental_qualifiers_link(pilot: Path, study_xpt: Study) -> None:
    suppae = _csv(pilot, "suppae")
    ae = _csv(pilot, "ae")
    merged = suppae.merge(ae, left_on=["USUBJID", "IDVARVAL"], right_on=["USUBJID", "AESEQ"])
    got = _rows(
        study_xpt,
        "SELECT count(*) FROM qualifiers q JOIN events e ON e._file = q.parent_file "
        "AND e._row = q.parent_row WHERE q.rdomain = 'AE' AND q.qnam = 'AETRTEM' AND q.qval = 'Y'",
    )
    expected = merged[(merged.QNAM == "AETRTEM") & (merged.QVAL == "Y")].shape[0]
    assert got == [(expected,)]
    assert expected > 0
    supplb = sum(len(_csv(pilot, n)) for n in ("supplbch", "supplbhe", "supplbur"))
    linked = _rows(
        study_xpt, "SELECT count(*) FROM qualifiers WHERE rdomain = 'LB' AND parent_row IS NOT NULL"
    )
    assert linked == [(supplb,)]


def test_xpt_and_csv_give_the_same_layout(study_xpt: Study, study_csv: Study) -> None:
    # XPT stores IBM floats (0.4 comes back as 0.39999999999999997): compare doses rounded
    for table, extra in (("events", ""), ("interventions", ", dose")):
        q = (
            f"SELECT * EXCLUDE (_file{extra}), {'round(dose, 9)' if extra else '1'} "
            f"FROM {table} ORDER BY domain, usubjid, seq"
        )
        assert study_xpt.con.execute(q).fetchall() == study_csv.con.execute(q).fetchall()
    q = "SELECT * FROM subjects ORDER BY usubjid"
    a = [r[:-2] for r in study_xpt.con.execute(q).fetchall()]
    b = [r[:-2] for r in study_csv.con.execute(q).fetchall()]
    assert a == b


def test_pilot_check_report(pilot: Path, study_xpt: Study) -> None:
    report = check_study(study_xpt, limit=50)
    # the only errors: pharmaversesdtm's MB has text (a unit) in the numeric MBSTRESN
    mb = pd.read_csv(pilot / "pharmaversesdtm_mb_ms" / "mb.csv", dtype=str, keep_default_na=False)
    bad = [
        i + 1
        for i, v in enumerate(mb.MBSTRESN)
        if v != "" and pd.to_numeric(pd.Series([v]), errors="coerce").isna().all()
    ]
    assert bad
    assert sorted((p.file, p.row, p.column, p.code) for p in report.errors) == [
        ("mb.csv", r, "MBSTRESN", "not-numeric") for r in bad
    ]
    assert report.exit_code == 1
    # numeric LBSTRESN without LBSTRESU in lbhe: every such row counted once in the report
    lbhe = _csv(pilot, "lbhe")
    expected = int(((lbhe.LBSTRESN != "") & (lbhe.LBSTRESU == "")).sum())
    counted = sum(
        p.count
        for p in report.problems
        if p.file == "lbhe.xpt" and p.code == "missing-unit" and p.column == "LBSTRESU"
    )
    assert counted == expected > 0
    assert report.facts["subjects"] == 306
    assert report.facts["rows by domain"]["LB"] == 59580
    assert "define.xml read (CDISC SDTM 3.2)" in report.notes
