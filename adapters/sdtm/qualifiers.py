"""Supplemental qualifiers (SUPP-- datasets) linked to the rows they qualify.

A SUPP-- row names its parent by RDOMAIN, USUBJID and IDVAR/IDVARVAL: the parent rows are those
of the subject whose variable IDVAR (e.g. AESEQ, LBGRPID) has the value IDVARVAL; a blank IDVAR
qualifies the subject (its DM row). SUPP datasets of split datasets (SUPPLBCH) look only in
their own dataset (LBCH). The `qualifiers` table keeps every SUPP row once per parent it
matches, with `parent_file`/`parent_row` NULL when none matches (the check reports those).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hyperfed.adapters.sdtm.layout import DomainView
from hyperfed.adapters.sdtm.sqlparts import ident, lit, txt

if TYPE_CHECKING:
    from hyperfed.adapters.sdtm.loader import Dataset

__all__ = ["qualifiers_sql"]

_EMPTY = (
    "SELECT CAST(NULL AS VARCHAR) AS rdomain, CAST(NULL AS VARCHAR) AS dataset, "
    "CAST(NULL AS VARCHAR) AS usubjid, CAST(NULL AS VARCHAR) AS idvar, "
    "CAST(NULL AS VARCHAR) AS idvarval, CAST(NULL AS VARCHAR) AS qnam, "
    "CAST(NULL AS VARCHAR) AS qlabel, CAST(NULL AS VARCHAR) AS qval, "
    "CAST(NULL AS VARCHAR) AS parent_file, CAST(NULL AS BIGINT) AS parent_row, "
    "CAST(NULL AS VARCHAR) AS _file, CAST(NULL AS BIGINT) AS _row WHERE false"
)


def _s(ds: Dataset, name: str, alias: str = "s") -> str:
    return (
        txt(name, ds.columns.get(name, False), alias)
        if name in ds.columns
        else "CAST(NULL AS VARCHAR)"
    )


def _supp_select(ds: Dataset, parent: DomainView | None, idvars: list[str], own: bool) -> str:
    """SELECT of one SUPP dataset's rows joined to their parents in view `parent`."""
    base = (
        f"SELECT *, rowid + 1 AS _row, upper({_s(ds, 'IDVAR', 'x')}) AS _idvar, "
        f"{_s(ds, 'IDVARVAL', 'x')} AS _idvarval, {_s(ds, 'USUBJID', 'x')} AS _usubjid "
        f"FROM {ident(ds.table)} x"
    )
    cols = [
        f"upper({_s(ds, 'RDOMAIN')}) AS rdomain",
        f"{lit(ds.name)} AS dataset",
        "s._usubjid AS usubjid",
        "s._idvar AS idvar",
        "s._idvarval AS idvarval",
        f"upper({_s(ds, 'QNAM')}) AS qnam",
        f"{_s(ds, 'QLABEL')} AS qlabel",
        f"{_s(ds, 'QVAL')} AS qval",
    ]
    tail = f"{lit(ds.file)} AS _file, s._row AS _row"
    branches: list[str] = []
    matched: list[str] = []
    if parent is not None:
        scope = f" AND p._dataset = {lit(ds.parent)}" if own else ""
        for idvar in idvars:
            if not parent.has(idvar):
                continue
            matched.append(lit(idvar))
            key = txt(idvar, parent.isnum(idvar), "p")
            branches.append(
                f"SELECT {', '.join(cols)}, p._file AS parent_file, p._row AS parent_row, {tail} "
                f"FROM ({base}) s LEFT JOIN {ident(parent.view)} p "
                f"ON {txt('USUBJID', False, 'p')} = s._usubjid "
                f"AND {key} = s._idvarval{scope} WHERE s._idvar = {lit(idvar)}"
            )
        if parent.domain == "DM" and parent.has("USUBJID"):
            matched.append("''")
            branches.append(
                f"SELECT {', '.join(cols)}, p._file AS parent_file, p._row AS parent_row, {tail} "
                f"FROM ({base}) s LEFT JOIN {ident(parent.view)} p "
                f"ON {txt('USUBJID', False, 'p')} = s._usubjid "
                "WHERE coalesce(s._idvar, '') = ''"
            )
    rest = f"coalesce(s._idvar, '') NOT IN ({', '.join(matched)})" if matched else "true"
    branches.append(
        f"SELECT {', '.join(cols)}, CAST(NULL AS VARCHAR) AS parent_file, "
        f"CAST(NULL AS BIGINT) AS parent_row, {tail} FROM ({base}) s WHERE {rest}"
    )
    return "\nUNION ALL\n".join(branches)


def qualifiers_sql(
    datasets: list[Dataset],
    views: dict[str, DomainView],
    con_idvars: dict[str, list[str]] | None = None,
) -> str:
    """SELECT of the `qualifiers` table over every SUPP dataset (`con_idvars`: the distinct
    IDVAR values of each SUPP table, read by the loader)."""
    parts: list[str] = []
    names = {ds.name for ds in datasets if not ds.is_supp}
    for ds in datasets:
        if not ds.is_supp:
            continue
        parent = views.get(ds.domain)
        own = ds.parent in names and ds.parent != ds.domain
        idvars = (con_idvars or {}).get(ds.table, [])
        parts.append(_supp_select(ds, parent, idvars, own))
    return "\nUNION ALL\n".join(parts) if parts else _EMPTY
