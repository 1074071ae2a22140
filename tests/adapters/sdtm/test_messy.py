"""Messy folders that break every rule: the report names file, row and column, and the layout
uses only what it may (expected values written by hand from the fixture rows)."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from hyperfed.adapters.checks import Report
from hyperfed.adapters.sdtm.checks import check_folder
from hyperfed.adapters.sdtm.errors import SdtmRefused, SdtmSourceError
from hyperfed.adapters.sdtm.loader import LoadOptions, load_folder

DM = """STUDYID,DOMAIN,USUBJID,SUBJID,SITEID,SEX,AGE,AGEU,RFSTDTC,BRTHDTC,COUNTRY,ARMCD,ARM
S1,DM,S1-001,001,01,F,54,YEARS,2019-03-05,,DEU,A,Drug
S1,DM,S1-002,002,01,m,18,MONTHS,2019-03-05,,DEU,A,Drug
S1,,S1-003,003,01,M,40,YEARS,2019-03-05,1979-06,DEU,A,Drug
S1,DM,S1-004,004,01,X,,,2019-03,,DEU,SCRNFAIL,Screen Failure
S1,DM,S1-001,001,01,F,54,YEARS,2019-03-05,,DEU,A,Drug
S1,DM,S1-005,005,01,F,30,,2019-03-05,,,A,Drug
"""
# rows:   1 ok; 2 AGE in months, sex lower case; 3 DOMAIN empty, BRTHDTC partial; 4 bad sex,
#         screen failure; 5 duplicate USUBJID; 6 AGE without AGEU, COUNTRY empty
LB = """STUDYID,DOMAIN,USUBJID,LBSEQ,LBTESTCD,LBTEST,LBORRES,LBORRESU,LBSTRESN,LBSTRESU,LBDTC
S1,LB,S1-001,1,HGB,Hemoglobin,12.5,g/dL,12.5,g/dL,2019-03-05
S1,LB,S1-002,1,HGB,Hemoglobin,118,g/L,118,g/L,2019/03/06
S1,LB,S1-003,1,HGB,Hemoglobin,13.1,,13.1,,2019-03
S1,LB,S1-003,1,HGB,Hemoglobin,12.9,g/dL,twelve,g/dL,03/05/2019
S1,VS,S1-099,1,HGB,Hemoglobin,10.0,g/dL,10.0,g/dL,2019-02-30
S1,LB,S1-001,2,WBC,Leukocytes,5.2,GI/L,,,20190307
S1,LB,S1-002,3,HGB,Hemoglobin,11.0,furlongs,11.0,furlongs,05MAR2019
"""
# rows:   1 ok; 2 g/L, non-ISO date; 3 no unit, partial date; 4 LBSEQ repeats row 3, text in
#         LBSTRESN, ambiguous date; 5 DOMAIN mismatch, subject not in DM, impossible date;
#         6 STRESN empty -> ORRES with ORRESU (GI/L), basic-format date; 7 unknown unit, DATE9
AE = """STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AESTDTC,PATNAME,AECOMM
S1,AE,S1-001,1,Headache,2019-04,Jane Doe,call me on +49 30 1234 5678
S1,AE,S1-002,1,Nausea,2019-04-02,,
"""
# AE: AEDECOD missing (Req), PATNAME (a name column), a phone number in free text


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    _write(tmp_path, "dm.csv", DM)
    _write(tmp_path, "acme_lb.csv", LB)
    _write(tmp_path, "AE.csv", AE)
    return tmp_path


def _where(report: Report, code: str) -> set[tuple[str | None, int | None, str | None]]:
    return {(p.file, p.row, p.column) for p in report.problems if p.code == code}


def test_report_names_file_row_and_column(messy: Path) -> None:
    report = check_folder(messy)
    assert not report.ok and report.exit_code == 1
    assert _where(report, "domain-empty") == {("dm.csv", 3, "DOMAIN")}
    assert _where(report, "domain-mismatch") == {("acme_lb.csv", 5, "DOMAIN")}
    assert _where(report, "duplicate-subject") == {("dm.csv", 5, "USUBJID")}
    assert _where(report, "duplicate-seq") == {("acme_lb.csv", 4, "LBSEQ")}
    assert _where(report, "unknown-subject") == {("acme_lb.csv", 5, "USUBJID")}
    assert _where(report, "not-numeric") == {("acme_lb.csv", 4, "LBSTRESN")}
    assert _where(report, "date-ambiguous") == {("acme_lb.csv", 4, "LBDTC")}
    assert _where(report, "date-impossible") == {("acme_lb.csv", 5, "LBDTC")}
    assert _where(report, "date-non-iso") == {
        ("acme_lb.csv", 2, "LBDTC"),
        ("acme_lb.csv", 6, "LBDTC"),
        ("acme_lb.csv", 7, "LBDTC"),
    }
    assert _where(report, "missing-unit") == {("acme_lb.csv", 3, "LBSTRESU")}
    assert _where(report, "unknown-unit") == {("acme_lb.csv", 7, "LBSTRESU")}
    assert _where(report, "missing-variable") == {("AE.csv", None, "AEDECOD")}
    assert _where(report, "missing-value") == {("dm.csv", 6, "COUNTRY")}
    assert _where(report, "not-in-codelist") == {("dm.csv", 4, "SEX")}
    assert _where(report, "age-unit-missing") == {("dm.csv", 6, "AGEU")}
    assert _where(report, "identifying-column") == {("AE.csv", None, "PATNAME")}
    assert _where(report, "identifying-value") == {("AE.csv", 1, "AECOMM")}
    for p in report.problems:
        assert p.file is not None and p.message


def test_layout_uses_only_what_it_may(messy: Path) -> None:
    study = load_folder(messy, LoadOptions(exclude_arms=("SCRNFAIL",)))
    try:
        con = study.con
        subjects = dict(
            (u, (sex, age, lo, hi))
            for u, sex, age, lo, hi in con.execute(
                "SELECT usubjid, sex, age, birth_lo, birth_hi FROM subjects"
            ).fetchall()
        )
        assert sorted(subjects) == ["S1-001", "S1-002", "S1-003", "S1-005"]  # 004 excluded
        assert subjects["S1-001"] == ("F", 54.0, dt.date(1964, 3, 6), dt.date(1965, 3, 5))
        # 18 MONTHS at 2019-03-05: born after 2019-03-05 - 19 months, by 2019-03-05 - 18 months
        assert subjects["S1-002"] == ("M", 1.5, dt.date(2017, 8, 6), dt.date(2017, 9, 5))
        assert subjects["S1-003"][2:] == (dt.date(1979, 6, 1), dt.date(1979, 6, 30))  # BRTHDTC
        assert subjects["S1-005"][1:] == (None, None, None)  # AGE without AGEU: not used
        rows = con.execute(
            "SELECT _row, value, unit, ucum, date_lo, date_hi FROM findings ORDER BY _row"
        ).fetchall()
        assert rows == [
            (1, 12.5, "g/dL", "g/dL", dt.date(2019, 3, 5), dt.date(2019, 3, 5)),
            (2, 118.0, "g/L", "g/L", dt.date(2019, 3, 6), dt.date(2019, 3, 6)),
            (3, 13.1, None, None, dt.date(2019, 3, 1), dt.date(2019, 3, 31)),
            (4, 12.9, "g/dL", "g/dL", None, None),  # STRESN text -> ORRES; ambiguous date
            # row 5: subject not in DM, never counted
            (6, 5.2, "GI/L", "10*9/L", dt.date(2019, 3, 7), dt.date(2019, 3, 7)),
            (7, 11.0, "furlongs", None, dt.date(2019, 3, 5), dt.date(2019, 3, 5)),
        ]
        events = con.execute("SELECT usubjid, term, start_lo, start_hi FROM events").fetchall()
        assert sorted(events) == [
            ("S1-001", "HEADACHE", dt.date(2019, 4, 1), dt.date(2019, 4, 30)),
            ("S1-002", "NAUSEA", dt.date(2019, 4, 2), dt.date(2019, 4, 2)),
        ]
        cols = [r[0] for r in con.execute("DESCRIBE raw_ae").fetchall()]
        assert "PATNAME" not in cols  # direct identifiers never enter the node
    finally:
        study.close()


def test_bad_files_serve_or_refuse(tmp_path: Path) -> None:
    _write(tmp_path, "dm.csv", DM)
    (tmp_path / "ae.xpt").write_bytes(b"this is not a SAS transport file" * 10)
    with gzip.open(tmp_path / "lb.csv.gz", "wb") as fh:
        fh.write(
            "STUDYID,DOMAIN,USUBJID,LBSEQ,LBTESTCD,LBTEST\nS1,LB,S1-001,1,HGB,H\xe9\n".encode()
        )
        fh.write("S1,LB,S1-001,2,HGB,H\xe9moglobin\n".encode("latin-1"))
    _write(tmp_path, "notes.txt", "ignored")
    study = load_folder(tmp_path)
    try:
        problems = {(p.file, p.code) for p in study.report.errors}
        assert problems == {("ae.xpt", "unreadable-file"), ("lb.csv.gz", "bad-encoding")}
        bad = next(p for p in study.report.errors if p.code == "bad-encoding")
        assert bad.row == 2 and "line 3" in bad.message
        assert study.count("subjects") == 5
        assert [d.name for d in study.datasets] == ["DM"]
    finally:
        study.close()
    with pytest.raises(SdtmRefused) as refused:
        load_folder(tmp_path, LoadOptions(on_error="refuse"))
    assert "ae.xpt" in str(refused.value) and "lb.csv.gz" in str(refused.value)
    latin = load_folder(tmp_path, LoadOptions(csv_encoding="latin-1"))
    try:
        assert {p.file for p in latin.report.errors} == {"ae.xpt"}
    finally:
        latin.close()


def test_no_dm_and_no_folder(tmp_path: Path) -> None:
    _write(tmp_path, "ae.csv", AE)
    report = check_folder(tmp_path)
    assert ("missing-domain", None) in {(p.code, p.file) for p in report.errors}
    with pytest.raises(SdtmRefused):
        load_folder(tmp_path, LoadOptions(on_error="refuse"))
    missing = check_folder(tmp_path / "nope")
    assert [p.code for p in missing.errors] == ["unreadable-source"]
    with pytest.raises(SdtmSourceError):
        load_folder(tmp_path / "nope")
