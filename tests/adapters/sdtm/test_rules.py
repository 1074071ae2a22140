"""The pure rules: the partial-date dictionary, SDTM unit terms -> UCUM, file names, SDTMIG
tables, identifier patterns and the report (expected values written by hand)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from hyperfed.adapters.checks import Problem, Report
from hyperfed.adapters.sdtm.dates import MACROS_SQL, dictionary_sql
from hyperfed.adapters.sdtm.files import domain_from_name, parse_file_name
from hyperfed.adapters.sdtm.identifiers import identifying_column
from hyperfed.adapters.sdtm.standard import required_variables
from hyperfed.adapters.sdtm.units import SDTM_TO_UCUM, ucum_for
from hyperfed.adapters.units import UNITS, range_in

D = dt.date
DATES = [
    ("2019", "partial", D(2019, 1, 1), D(2019, 12, 31)),
    ("2019-03", "partial", D(2019, 3, 1), D(2019, 3, 31)),
    ("2020-02", "partial", D(2020, 2, 1), D(2020, 2, 29)),
    ("2019---15", "partial", D(2019, 1, 1), D(2019, 12, 31)),
    ("2019-03-05", "iso", D(2019, 3, 5), D(2019, 3, 5)),
    ("2019-03-05T13:45:10", "iso", D(2019, 3, 5), D(2019, 3, 5)),
    ("2019/03", "non_iso", D(2019, 3, 1), D(2019, 3, 31)),
    ("2019/3/5", "non_iso", D(2019, 3, 5), D(2019, 3, 5)),
    ("20190305", "non_iso", D(2019, 3, 5), D(2019, 3, 5)),
    ("5MAR2019", "non_iso", D(2019, 3, 5), D(2019, 3, 5)),
    ("Feb2020", "non_iso", D(2020, 2, 1), D(2020, 2, 29)),
    ("03/05/2019", "ambiguous", None, None),
    ("5.3.19", "ambiguous", None, None),
    ("2019-02-29", "impossible", None, None),
    ("2019-13", "impossible", None, None),
    ("2019/13/01", "impossible", None, None),
    ("2019-03-05T24:61", "impossible", None, None),
    ("31FEB2019", "impossible", None, None),
    ("unknown", "invalid", None, None),
    ("2019-3-5", "invalid", None, None),
]


def test_date_dictionary() -> None:
    con = duckdb.connect()
    for statement in MACROS_SQL:
        con.execute(statement)
    con.execute("CREATE TEMP TABLE v (text VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [[t] for t, *_ in DATES] + [[""], [None]])
    con.execute(dictionary_sql("v", "d"))
    got = {t: (k, lo, hi) for t, k, lo, hi in con.execute("SELECT * FROM d").fetchall()}
    assert got == {t: (k, lo, hi) for t, k, lo, hi in DATES}  # empty values are not in it


def test_unit_terms_map_to_ucum() -> None:
    assert ucum_for("10^9/L") == ("10*9/L", "table")
    assert ucum_for("mmHg") == ("mm[Hg]", "table")
    assert ucum_for("C") == ("Cel", "table")
    assert ucum_for("beats/min") == ("{beats}/min", "table")
    assert ucum_for("IU/L") == ("[IU]/L", "table")
    assert ucum_for("MG/DL") == ("mg/dL", "case")
    assert ucum_for("mm[Hg]") == ("mm[Hg]", "ucum")
    assert ucum_for("furlongs") is None
    assert ucum_for("  ") is None
    # the number-concentration terms convert like the UCUM codes they map to
    lo, hi = range_in(4.0, 10.0, ucum_for("10^9/L")[0], ucum_for("10^3/uL")[0])  # type: ignore[index]
    assert (lo, hi) == (4.0, 10.0)
    lo, hi = range_in(12.0, None, ucum_for("g/dL")[0], ucum_for("g/L")[0])  # type: ignore[index]
    assert lo == 120.0


# UCUM codes of the table that the project's converter does not know (valid UCUM, no factor)
NOT_CONVERTED = {
    "10*3/mm3", "10*6/mm3", "/[HPF]", "/[LPF]", "ug/dL", "ng/dL", "meq/L", "mosm/kg", "mU/L",
    "m[IU]/L", "m[IU]/mL", "u[IU]/mL", "uU/mL", "[IU]/mL", "[IU]", "1", "{ratio}", "fL", "pg",
    "fmol", "mL/min", "m2", "ms",
}  # fmt: skip


def test_every_ucum_target_is_known() -> None:
    unknown = {code for code in SDTM_TO_UCUM.values() if code not in UNITS}
    assert unknown == NOT_CONVERTED


def test_file_names() -> None:
    assert parse_file_name("dm.xpt") == ("DM", "xpt", None)
    assert parse_file_name("LB.csv") == ("LB", "csv", None)
    assert parse_file_name("acme_lbch.csv.gz") == ("LBCH", "csv", "acme")
    assert parse_file_name("site_a_supplb.CSV") == ("SUPPLB", "csv", "site_a")
    assert parse_file_name("notes.txt") is None
    assert parse_file_name("toolongname.csv") is None
    assert domain_from_name("LBCH") == "LB"
    assert domain_from_name("SUPPLBHE") == "LB"
    assert domain_from_name("XY") == "XY"
    assert domain_from_name("RELREC") == "RELREC"
    assert domain_from_name("ZZTOP") is None


def test_sdtmig_required_variables() -> None:
    assert required_variables("AE") == (
        "STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AEDECOD",
    )  # fmt: skip
    assert required_variables("LB") == (
        "STUDYID", "DOMAIN", "USUBJID", "LBSEQ", "LBTESTCD", "LBTEST",
    )  # fmt: skip
    assert required_variables("CM")[-1] == "CMTRT"
    assert "ARMCD" not in required_variables("DM")  # Exp in SDTMIG 3.3
    assert required_variables("XZ", "FINDINGS") == (
        "STUDYID", "DOMAIN", "USUBJID", "XZSEQ", "XZTESTCD", "XZTEST",
    )  # fmt: skip
    assert required_variables("XZ") == ()


@pytest.mark.parametrize(
    ("name", "identifying"),
    [
        ("PATNAME", True), ("FIRSTNAME", True), ("SURNAME", True), ("INITIALS", True),
        ("ADDRESS", True), ("PHONE", True), ("EMAIL", True), ("SSN", True),
        ("QNAM", False), ("INVNAM", False), ("ARMCD", False), ("AETERM", False),
        ("TSPARM", False), ("ELEMENT", False), ("DOMAIN", False),
    ],
)  # fmt: skip
def test_identifying_columns(name: str, identifying: bool) -> None:
    assert (identifying_column(name) is not None) == identifying


def test_report_round_trip() -> None:
    report = Report("/srv/x", "sdtm")
    report.add(Problem("warning", "lb.csv", 3, "LBSTRESU", "missing-unit", "no unit"))
    report.add(Problem("error", "dm.csv", None, "SEX", "missing-variable", "missing", count=1))
    data = json.loads(report.to_json())
    assert data["ok"] is False and data["errors"] == 1 and data["warnings"] == 1
    assert [p["code"] for p in data["problems"]] == ["missing-variable", "missing-unit"]
    assert Report.from_dict(data).problems == report.sorted_problems()
    assert report.exit_code == 1
    with pytest.raises(ValueError):
        Problem("fatal", None, None, None, "x", "y")  # type: ignore[arg-type]
