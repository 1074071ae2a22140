"""The native query of SQL adapters: one sqlglot SELECT, rendered per dialect."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from hyperfed.adapters.base import NativeQuery

__all__ = ["SqlQuery"]


@dataclass
class SqlQuery(NativeQuery):
    sql: exp.Select | None = None
    dialect: str = field(default="duckdb", kw_only=True)

    def render(self, dialect: str | None = None, pretty: bool = False) -> str:
        if self.sql is None:
            raise ValueError("the query has unsupported criteria and compiles to no SQL")
        return self.sql.sql(dialect=dialect or self.dialect, pretty=pretty)

    def text(self) -> str:
        return self.render(pretty=True) + ";"
