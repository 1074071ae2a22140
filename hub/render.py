"""Printing a federated result as a table (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["render_result"]


def _num(entry: dict[str, Any]) -> str:
    if entry.get("count") is None:
        adjusted = entry.get("countAdjustedTo") or []
        return f"{adjusted[0]}" if adjusted and str(adjusted[0]).startswith("<") else "—"
    return f"{entry['count']:,}"


def _adjust(entry: dict[str, Any]) -> str:
    parts = [
        str(a) if not isinstance(a, int) else f"rounded to {a}"
        for a in entry.get("countAdjustedTo") or []
    ]
    return ", ".join(parts)


def render_result(body: dict[str, Any], console: Console) -> None:
    table = Table(title=f"query {body.get('id', '')}  (as of {body.get('as_of')})")
    table.add_column("node")
    table.add_column("status")
    table.add_column("count", justify="right")
    table.add_column("adjusted")
    table.add_column("notes")
    for n in body.get("nodes", []):
        notes = list(n.get("notes") or [])
        notes += [f"unsupported {u['path']}: {u['reason']}" for u in n.get("unsupported") or []]
        if n.get("error"):
            notes.append(n["error"])
        table.add_row(n["node"], n["status"], _num(n), _adjust(n), "\n".join(notes))
    total = body.get("total") or {}
    table.add_section()
    table.add_row(
        "[bold]total[/]",
        total.get("status", ""),
        f"[bold]{_num(total)}[/]",
        _adjust(total),
        total.get("note", ""),
    )
    console.print(table)
    strata = body.get("strata")
    if strata:
        st = Table(title="strata (totals over nodes)")
        st.add_column("sex")
        st.add_column("age")
        st.add_column("count", justify="right")
        for s in strata:
            st.add_row(s.get("sex") or "", s.get("age") or "", _num(s))
        console.print(st)
