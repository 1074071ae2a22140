"""The view engine's own promises beyond the official suite: clear errors, never a guessed
row, user text only ever a literal."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from hyperfed.adapters.fhir.errors import (
    FhirPathSyntaxError,
    UnsupportedFhirPath,
    ViewDefinitionError,
    ViewRunError,
)
from hyperfed.adapters.fhir.run import create_resource_table, materialise_view, run_view
from hyperfed.adapters.fhir.viewdef import MAX_REPEAT_DEPTH, compile_view

PEOPLE = [
    {"resourceType": "Patient", "id": "a", "name": [{"family": "O'Brien"}, {"family": "X"}]},
    {
        "resourceType": "Patient",
        "id": "b",
        "name": [{"family": "'); DROP TABLE fhir_resource; --"}],
    },
]


def _view(path: str, **column: Any) -> dict[str, Any]:
    return {"resource": "Patient", "select": [{"column": [{"name": "v", "path": path, **column}]}]}


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    create_resource_table(c, PEOPLE)
    return c


def test_strings_are_literals(con: duckdb.DuckDBPyConnection) -> None:
    view = {
        "resource": "Patient",
        "select": [{"column": [{"name": "id", "path": "id"}]}],
        "where": [{"path": "name.where(family = 'O\\'Brien').exists()"}],
    }
    assert run_view(con, view).dicts() == [{"id": "a"}]
    evil = "name.where(family = '\\'); DROP TABLE fhir_resource; --').exists()"
    view["where"] = [{"path": evil}]
    assert run_view(con, view).dicts() == [{"id": "b"}]
    row = con.execute("SELECT count(*) FROM fhir_resource").fetchone()
    assert row == (2,)


def test_unsupported_and_syntax_errors_name_the_expression() -> None:
    with pytest.raises(UnsupportedFhirPath, match=r"select\[0\]\.column\[0\]\.path.*descendants"):
        compile_view(_view("descendants()"))
    with pytest.raises(UnsupportedFhirPath, match="iif"):
        compile_view(_view("iif(active, 1, 2)"))
    with pytest.raises(FhirPathSyntaxError, match=r"name\.\("):
        compile_view(_view("name.("))
    with pytest.raises(ViewDefinitionError, match="undefined constant %nope"):
        compile_view(_view("%nope"))
    with pytest.raises(ViewDefinitionError, match="column name"):
        compile_view(
            {"resource": "Patient", "select": [{"column": [{"name": "a b", "path": "id"}]}]}
        )


def test_runtime_errors_name_the_column(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ViewRunError, match=r"column\[0\] \(v\).*more than one value"):
        run_view(con, _view("name.family"))
    assert sorted(r["v"] for r in run_view(con, _view("name.family.first()")).dicts()) == [
        "'); DROP TABLE fhir_resource; --",
        "O'Brien",
    ]
    bad_where = {
        "resource": "Patient",
        "select": [{"column": [{"name": "id", "path": "id"}]}],
        "where": [{"path": "name.family.first()"}],
    }
    with pytest.raises(ViewRunError, match="did not give a boolean"):
        run_view(con, bad_where)
    with pytest.raises(ViewRunError, match="more than one value"):
        materialise_view(con, _view("name.family"), "t_out")


def test_repeat_deeper_than_the_limit_fails() -> None:
    def nest(depth: int) -> dict[str, Any]:
        item: dict[str, Any] = {"linkId": str(depth)}
        for d in range(depth - 1, 0, -1):
            item = {"linkId": str(d), "item": [item]}
        return {
            "resourceType": "QuestionnaireResponse",
            "id": f"q{depth}",
            "status": "completed",
            "item": [item],
        }

    view = {
        "resource": "QuestionnaireResponse",
        "select": [{"repeat": ["item"], "column": [{"name": "l", "path": "linkId"}]}],
    }
    c = duckdb.connect()
    create_resource_table(c, [nest(MAX_REPEAT_DEPTH + 1)])
    assert len(run_view(c, view).rows) == MAX_REPEAT_DEPTH + 1
    create_resource_table(c, [nest(MAX_REPEAT_DEPTH + 2)])
    with pytest.raises(ViewRunError, match="repeat nests deeper"):
        run_view(c, view)


def test_date_helpers() -> None:
    import datetime as dt

    from sqlglot import exp

    from hyperfed.adapters.fhir.dates import date_end_sql, date_start_sql

    texts = ["2019", "2019-04", "2019-02-05", "2019-04-05T23:30:00-05:00", "2020-02", "soon", None]
    c = duckdb.connect()
    c.execute("CREATE TABLE d (t VARCHAR)")
    c.executemany("INSERT INTO d VALUES (?)", [(t,) for t in texts])
    col = exp.column("t")
    sql = f"SELECT t, {date_start_sql(col).sql('duckdb')}, {date_end_sql(col).sql('duckdb')} FROM d"
    got = {t: (a, b) for t, a, b in c.execute(sql).fetchall()}
    d = dt.date
    assert got == {
        "2019": (d(2019, 1, 1), d(2019, 12, 31)),
        "2019-04": (d(2019, 4, 1), d(2019, 4, 30)),
        "2019-02-05": (d(2019, 2, 5), d(2019, 2, 5)),
        "2019-04-05T23:30:00-05:00": (d(2019, 4, 5), d(2019, 4, 5)),
        "2020-02": (d(2020, 2, 1), d(2020, 2, 29)),
        "soon": (None, None),
        None: (None, None),
    }
