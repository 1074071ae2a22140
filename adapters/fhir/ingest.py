"""The SQL steps of loading: NDJSON files, Bundles, duplicates and patient links.

Every step is DuckDB SQL over the files (statement text of our own; file paths, type names
and the like enter only as sqlglot-quoted literals). Problems go to ``fhir_problem``; only
the few lines that are not JSON are read back into Python, to name the JSON error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
from sqlglot import exp

__all__ = ["dedupe", "ingest_bundles", "ingest_ndjson", "patient_checks"]

_MAX_LINE = 256 * 1024 * 1024
_MAX_OBJECT = 1024 * 1024 * 1024
_DETAILED = 1000  # JSON error messages per file; the rest say "not valid JSON"
_NO_PATIENT_NEEDED = ("Patient", "Medication")


def _q(value: str) -> str:
    return exp.Literal.string(value).sql("duckdb")


def _types(used: Iterable[str]) -> str:
    return "(" + ", ".join(_q(t) for t in sorted(used)) + ")"


def _lines(path: Path) -> str:
    """NDJSON lines with their 1-based numbers (blank lines kept as NULL or spaces)."""
    return (
        f"(SELECT ordinality AS line, text FROM read_csv({_q(str(path))}, "
        "columns = {'text': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', "
        "header = false, auto_detect = false, strict_mode = false, "
        f"max_line_size = {_MAX_LINE}) WITH ORDINALITY)"
    )


def _problem(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    file: str,
    reason: str,
    line: int | None = None,
    entry: int | None = None,
    resource: str | None = None,
) -> None:
    con.execute(
        "INSERT INTO fhir_problem VALUES (?, ?, ?, ?, ?, NULL, ?)",
        [kind, file, line, entry, resource, reason],
    )


def _json_reason(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} (column {exc.colno})"
    return "not valid JSON"


def ingest_ndjson(
    con: duckdb.DuckDBPyConnection, file_id: int, path: Path, used: Iterable[str]
) -> None:
    """Load one NDJSON file: resources of `used` types into fhir_resource, the rest counted
    (hf_skipped) or reported (fhir_problem) with their line numbers."""
    used = sorted(used)
    src, name = _lines(path), str(path)
    try:
        row = con.execute(
            f"""INSERT INTO fhir_resource
SELECT k[1], k[2], CAST(text AS JSON), {file_id}, line, NULL FROM (
  SELECT line, text, json_extract_string(text, ['$.resourceType', '$.id']) AS k
  FROM {src} WHERE json_valid(text) AND starts_with(ltrim(text), '{{'))
WHERE k[1] IN {_types(used)} AND k[2] IS NOT NULL"""
        ).fetchone()
        inserted = int(row[0]) if row else 0
        row = con.execute(
            f"SELECT count(*) FROM {src} WHERE text IS NOT NULL AND trim(text) <> ''"
        ).fetchone()
        lines = int(row[0]) if row else 0
    except duckdb.Error as exc:
        _problem(con, "unreadable", name, f"cannot read the file: {exc}")
        return
    if inserted == lines:
        return
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE hf_lines AS
SELECT line, valid, jt, k, CASE WHEN NOT valid THEN text END AS text FROM (
  SELECT line, text, json_valid(text) AS valid,
    CASE WHEN json_valid(text) THEN json_type(text) END AS jt,
    CASE WHEN json_valid(text) AND json_type(text) = 'OBJECT'
         THEN json_extract_string(text, ['$.resourceType', '$.id']) END AS k
  FROM {src} WHERE text IS NOT NULL AND trim(text) <> '')
WHERE NOT coalesce(valid AND jt = 'OBJECT' AND k[1] IN {_types(used)} AND k[2] IS NOT NULL,
                false)"""
    )
    bad = con.execute(
        "SELECT line, text FROM hf_lines WHERE NOT valid ORDER BY line LIMIT ?", [_DETAILED]
    ).fetchall()
    if bad:
        con.executemany(
            "INSERT INTO fhir_problem VALUES ('invalid_json', ?, ?, NULL, NULL, NULL, ?)",
            [(name, line, _json_reason(text)) for line, text in bad],
        )
    con.execute(
        f"""INSERT INTO fhir_problem
SELECT 'invalid_json', {_q(name)}, line, NULL, NULL, NULL, 'not valid JSON'
FROM hf_lines WHERE NOT valid AND line > coalesce(
  (SELECT max(line) FROM (SELECT line FROM hf_lines WHERE NOT valid ORDER BY line
   LIMIT {_DETAILED})), 0)
UNION ALL
SELECT 'not_a_resource', {_q(name)}, line, NULL, NULL, NULL,
  CASE WHEN jt <> 'OBJECT' THEN 'a JSON ' || lower(jt) || ', not a resource object'
       ELSE 'no resourceType' END
FROM hf_lines WHERE valid AND (jt <> 'OBJECT' OR k[1] IS NULL)
UNION ALL
SELECT 'missing_id', {_q(name)}, line, NULL, k[1], NULL, 'a ' || k[1] || ' without id'
FROM hf_lines WHERE valid AND jt = 'OBJECT' AND k[1] IN {_types(used)} AND k[2] IS NULL"""
    )
    con.execute(
        f"""INSERT INTO hf_skipped SELECT k[1], count(*) FROM hf_lines
WHERE valid AND jt = 'OBJECT' AND k[1] IS NOT NULL AND k[1] NOT IN {_types(used)} GROUP BY 1"""
    )
    con.execute("DROP TABLE hf_lines")


def _read_docs(con: duckdb.DuckDBPyConnection, paths: list[str]) -> None:
    listing = "[" + ", ".join(_q(p) for p in paths) + "]"
    con.execute(
        "INSERT INTO hf_doc SELECT filename, json FROM read_json_objects("
        f"{listing}, format = 'auto', filename = true, maximum_object_size = {_MAX_OBJECT})"
    )


def ingest_bundles(
    con: duckdb.DuckDBPyConnection, files: list[tuple[int, Path]], used: Iterable[str]
) -> None:
    """Load .json/.json.gz files (Bundles or single resources)."""
    used = sorted(used)
    con.execute("CREATE OR REPLACE TEMP TABLE hf_doc (filename VARCHAR, doc JSON)")
    con.execute("CREATE OR REPLACE TEMP TABLE hf_bfile (file_id INTEGER, path VARCHAR)")
    con.executemany("INSERT INTO hf_bfile VALUES (?, ?)", [(i, str(p)) for i, p in files])
    try:
        _read_docs(con, [str(p) for _, p in files])
    except duckdb.Error:
        con.execute("DELETE FROM hf_doc")
        for _, p in files:
            try:
                _read_docs(con, [str(p)])
            except duckdb.Error as exc:
                kind = "invalid_json" if "JSON" in str(exc) else "unreadable"
                _problem(con, kind, str(p), str(exc).split("\n")[0])
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hf_entry AS
WITH d AS (
  SELECT f.file_id, f.path, doc, json_extract_string(doc, '$.resourceType') AS drt
  FROM hf_doc JOIN hf_bfile f ON f.path = hf_doc.filename
), b AS (
  SELECT file_id, path, CAST(json_extract(doc, '$.entry') AS JSON[]) AS es FROM d
  WHERE drt = 'Bundle'
), e AS (
  SELECT file_id, path, CAST(generate_subscripts(es, 1) - 1 AS INTEGER) AS entry,
    unnest(es) AS en
  FROM b
), x AS (
  SELECT file_id, path, entry, json_extract_string(en, '$.fullUrl') AS full_url,
    json_extract(en, '$.resource') AS res, json_extract_string(en, '$.request.method') AS method,
    true AS in_bundle
  FROM e
  UNION ALL
  SELECT file_id, path, NULL, NULL, doc, NULL, false FROM d WHERE drt IS DISTINCT FROM 'Bundle'
)
SELECT *, json_extract_string(res, '$.resourceType') AS rt,
  coalesce(json_extract_string(res, '$.id'),
           CASE WHEN full_url LIKE 'urn:uuid:%' THEN substr(full_url, 10) END) AS rid,
  json_extract_string(res, '$.id') IS NULL AS id_from_url,
  CAST(row_number() OVER () AS BIGINT) AS n
FROM x"""
    )
    types = _types(used)
    con.execute(
        f"""INSERT INTO fhir_problem
SELECT 'not_a_resource', path, NULL, entry, NULL, NULL,
  CASE WHEN res IS NULL THEN 'entry without a resource' ELSE 'no resourceType' END
FROM hf_entry WHERE rt IS NULL AND method IS DISTINCT FROM 'DELETE'
UNION ALL
SELECT 'missing_id', path, NULL, entry, rt, NULL,
  'a ' || rt || ' without id (and no urn:uuid fullUrl)'
FROM hf_entry WHERE rt IN {types} AND rid IS NULL
UNION ALL
SELECT 'bundle_without_patient', path, NULL, NULL, NULL, NULL,
  'a Bundle with ' || count(*) FILTER (rt IN {types} AND rt NOT IN {_types(_NO_PATIENT_NEEDED)})
  || ' patient resources but no Patient'
FROM hf_entry WHERE in_bundle GROUP BY path
HAVING count(*) FILTER (rt = 'Patient') = 0
   AND count(*) FILTER (rt IN {types} AND rt NOT IN {_types(_NO_PATIENT_NEEDED)}) > 0"""
    )
    con.execute(
        f"INSERT INTO hf_skipped SELECT rt, count(*) FROM hf_entry "
        f"WHERE rt IS NOT NULL AND rt NOT IN {types} GROUP BY 1"
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hf_alias AS
SELECT full_url AS url, any_value(rt || '/' || rid) AS ref FROM hf_entry
WHERE full_url IS NOT NULL AND rt IS NOT NULL AND rid IS NOT NULL GROUP BY 1"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE hf_used AS
SELECT n, file_id, path, entry, rt, rid,
  CAST(CASE WHEN id_from_url THEN json_merge_patch(res, json_object('id', rid)) ELSE res END
       AS VARCHAR) AS txt
FROM hf_entry WHERE rt IN {types} AND rid IS NOT NULL"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hf_ref AS
SELECT n, m, regexp_extract(m, '"(urn:[^"]+)"$', 1) AS url FROM (
  SELECT n, unnest(regexp_extract_all(txt, '"reference"\\s*:\\s*"urn:[^"]+"')) AS m
  FROM hf_used WHERE contains(txt, '"urn:'))"""
    )
    con.execute(
        """INSERT INTO fhir_problem
SELECT DISTINCT 'unresolved_reference', u.path, NULL, u.entry, u.rt || '/' || u.rid, NULL,
  'reference ' || r.url || ' matches no fullUrl of the Bundles loaded'
FROM hf_ref r JOIN hf_used u USING (n) LEFT JOIN hf_alias a ON a.url = r.url
WHERE a.url IS NULL"""
    )
    con.execute(
        """INSERT INTO fhir_resource
SELECT u.rt, u.rid,
  CAST(CASE WHEN s.reps IS NULL THEN u.txt
            ELSE list_reduce(s.reps, lambda acc, x: replace(acc, x.f, x.t), u.txt) END AS JSON),
  u.file_id, NULL, u.entry
FROM hf_used u LEFT JOIN (
  SELECT r.n, list(DISTINCT {'f': r.m, 't': '"reference":"' || a.ref || '"'}) AS reps
  FROM hf_ref r JOIN hf_alias a ON a.url = r.url GROUP BY r.n
) s USING (n)
ORDER BY u.n"""
    )
    for table in ("hf_ref", "hf_used", "hf_alias", "hf_entry", "hf_doc", "hf_bfile"):
        con.execute(f"DROP TABLE {table}")


def dedupe(con: duckdb.DuckDBPyConnection) -> None:
    """Report and drop repeated resourceType/id pairs (the first in file order is kept)."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE hf_dup AS
SELECT r.rowid AS rid_, r.resource_type, r.id, r.file_id, r.line, r.entry,
  row_number() OVER (PARTITION BY r.resource_type, r.id ORDER BY r.file_id, r.line, r.entry)
    AS k
FROM fhir_resource r JOIN (
  SELECT resource_type, id FROM fhir_resource GROUP BY ALL HAVING count(*) > 1
) d ON d.resource_type = r.resource_type AND d.id = r.id"""
    )
    con.execute(
        """INSERT INTO fhir_problem
SELECT 'duplicate', f.path, d.line, d.entry, d.resource_type || '/' || d.id, NULL,
  'appears more than once; the first one is used'
FROM hf_dup d JOIN fhir_file f USING (file_id) WHERE d.k > 1"""
    )
    con.execute("DELETE FROM fhir_resource WHERE rowid IN (SELECT rid_ FROM hf_dup WHERE k > 1)")
    con.execute("DROP TABLE hf_dup")


def patient_checks(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> None:
    """Rows of view tables (table -> resource type) whose patient_id is NULL (no subject) or
    names no loaded Patient; one problem per resource."""
    present = {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'patient_id'"
        ).fetchall()
    }
    has_patient = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'v_patient'"
    ).fetchone()
    if not has_patient or not has_patient[0]:
        return
    for table, resource in tables.items():
        if table not in present:
            continue
        t = exp.to_identifier(table).sql("duckdb")
        con.execute(
            f"""INSERT INTO fhir_problem
SELECT DISTINCT CASE WHEN v.patient_id IS NULL THEN 'missing_subject'
                     ELSE 'dangling_reference' END,
  f.path, r.line, r.entry, r.resource_type || '/' || r.id, NULL,
  CASE WHEN v.patient_id IS NULL THEN 'no reference to a Patient (subject or patient)'
       ELSE 'refers to Patient/' || v.patient_id || ', which is not loaded' END
FROM {t} v
JOIN fhir_resource r ON r.resource_type = {_q(resource)} AND r.id = v.id
JOIN fhir_file f ON f.file_id = r.file_id
LEFT JOIN v_patient p ON p.id = v.patient_id
WHERE p.id IS NULL"""
        )
