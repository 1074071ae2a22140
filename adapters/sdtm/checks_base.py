"""The shared machinery of the checks: run a query of offending rows, turn it into problems.

A check query returns `_row` (1-based data row of the file) and `detail` (text for the
message, or NULL). At most `limit` rows become problems of their own; the rest
of the same (file, column, code) become one problem with their `count`, so a column that is
empty in a million rows is one line of the report, not a million.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from hyperfed.adapters.checks import Problem, Severity

__all__ = ["ROW_LIMIT", "Emitter"]

ROW_LIMIT = 20


@dataclass
class Emitter:
    con: duckdb.DuckDBPyConnection
    problems: list[Problem]
    limit: int = ROW_LIMIT

    def rows(
        self,
        query: str,
        severity: Severity,
        file: str,
        column: str | None,
        code: str,
        message: Callable[[str | None], str],
    ) -> int:
        """Problems for the rows of `query` (columns `_row`, optional `detail`); returns how
        many rows offended."""
        wrapped = (
            f"SELECT _row, detail, count(*) OVER () AS n FROM ({query}) q ORDER BY _row "
            f"LIMIT {int(self.limit) + 1}"
        )
        rows = self.con.execute(wrapped).fetchall()
        if not rows:
            return 0
        total = int(rows[0][2])
        for row, detail, _n in rows[: self.limit]:
            self.problems.append(Problem(severity, file, int(row), column, code, message(detail)))
        if total > self.limit:
            row, detail, _n = rows[self.limit]
            more = total - self.limit
            self.problems.append(
                Problem(
                    severity,
                    file,
                    int(row),
                    column,
                    code,
                    f"{message(detail)} (and the same in {more - 1:,} more row(s) after this one)"
                    if more > 1
                    else message(detail),
                    count=more,
                )
            )
        return total

    def one(
        self,
        severity: Severity,
        file: str | None,
        column: str | None,
        code: str,
        message: str,
        row: int | None = None,
        count: int = 1,
    ) -> None:
        self.problems.append(Problem(severity, file, row, column, code, message, count))
