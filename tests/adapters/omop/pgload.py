"""Copy OMOP tables from a DuckDB file into PostgreSQL (test fixture helper)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg
from psycopg import sql

TABLES = (
    "person",
    "condition_occurrence",
    "drug_exposure",
    "measurement",
    "procedure_occurrence",
    "observation",
    "visit_occurrence",
    "concept",
    "concept_ancestor",
    "concept_relationship",
    "cdm_source",
)

_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DATE": "date",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "TIMESTAMP": "timestamp",
    "FLOAT": "real",
}


def load(duck_path: Path, dsn: str, schema: str, upper: bool) -> None:
    """Copy TABLES into `schema`, with all table and column names upper- or lower-case."""
    src = duckdb.connect(str(duck_path), read_only=True)

    def name(x: str) -> str:
        return x.upper() if upper else x.lower()

    with psycopg.connect(dsn, autocommit=True) as pg:
        pg.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        pg.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        for table in TABLES:
            cols = src.execute(f"DESCRIBE {table}").fetchall()
            names = [name(c[0]) for c in cols]
            ident = sql.Identifier(schema, name(table))
            pg.execute(
                sql.SQL("CREATE TABLE {} ({})").format(
                    ident,
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(
                            sql.Identifier(n), sql.SQL(_TYPES.get(c[1], "text"))
                        )
                        for n, c in zip(names, cols, strict=True)
                    ),
                )
            )
            rows = src.execute(f"SELECT * FROM {table}").fetchall()
            with (
                pg.cursor() as cur,
                cur.copy(
                    sql.SQL("COPY {} ({}) FROM STDIN").format(
                        ident, sql.SQL(", ").join(map(sql.Identifier, names))
                    )
                ) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            pg.execute(sql.SQL("ANALYZE {}").format(ident))
    src.close()
