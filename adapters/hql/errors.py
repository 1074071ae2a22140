"""Turning validation errors into JSON paths a person can find in their query.

pydantic reports locations that include union tags (``criteria.all.all.0``); `json_path()`
walks the submitted document alongside the location and keeps only the steps that exist
in it, giving ``criteria.all[0]``. `size_problems()` names where a query passes the limits
on its size (`hyperfed.adapters.limits`: event criteria, codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hyperfed.adapters import limits

if TYPE_CHECKING:
    from hyperfed.adapters.hql.bindings import BindingBase
    from hyperfed.adapters.hql.model import Query

__all__ = ["Problem", "json_path", "size_problems", "validation_problems"]

Problem = dict[str, Any]


def json_path(loc: tuple[int | str, ...], document: Any) -> str:
    path = ""
    node = document
    for step in loc:
        if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            path += f"[{step}]"
            node = node[step]
        elif isinstance(node, dict) and isinstance(step, str) and step in node:
            path += f".{step}" if path else step
            node = node[step]
        elif isinstance(node, dict) and isinstance(step, str) and step.rstrip("_") in node:
            key = step.rstrip("_")
            path += f".{key}" if path else key
            node = node[key]
        elif not isinstance(node, dict | list) or (
            isinstance(step, str) and step not in ("all", "any", "not", "age", "event")
        ):
            # a missing field: name it
            path += f".{step}" if path else str(step)
            node = None
    return path or "$"


def validation_problems(exc: ValidationError, document: Any, prefix: str = "") -> list[Problem]:
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        path = json_path(tuple(err["loc"]), document)
        msg = str(err["msg"]).removeprefix("Value error, ")
        item: Problem = {"path": f"{prefix}{path}", "message": msg}
        if ("input" in err and not isinstance(err["input"], dict | list)) or (
            "input" in err and isinstance(err["input"], dict) and len(str(err["input"])) < 200
        ):
            item["value"] = err["input"]
        out.append(item)
    return out


def size_problems(
    query: Query,
    bindings: Mapping[str, BindingBase] | None = None,
    prefix: str = "",
    model: str | None = None,
) -> list[Problem]:
    """Where `query` passes the size limits: more than `MAX_CRITERIA` event criteria, or more
    than `MAX_CODE_SET` codes — its own and, given `bindings`, its concepts' — named by the
    path of the criterion at which the limit is passed (none when it keeps within them)."""
    from hyperfed.adapters.hql.bindings import CodesBinding
    from hyperfed.adapters.hql.walk import iter_events

    codes = 0
    for events, (path, e) in enumerate(iter_events(query.criteria), start=1):
        if events > limits.MAX_CRITERIA:
            return [
                {
                    "path": f"{prefix}{path}",
                    "message": f"the query has more than {limits.MAX_CRITERIA:,} event "
                    "criteria; split it into smaller queries",
                }
            ]
        if e.code is not None:
            codes += 1
        elif bindings is not None:
            binding = bindings.get(e.concept or "")
            if isinstance(binding, CodesBinding):
                codes += len(binding.codes)
        if codes > limits.MAX_CODE_SET:
            where = f" for {model} nodes" if model else ""
            return [
                {
                    "path": f"{prefix}{path}",
                    "message": f"the query names more than {limits.MAX_CODE_SET:,} codes{where} "
                    "(its own and its concepts' together); split it into smaller queries",
                }
            ]
    return []
