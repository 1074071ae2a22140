"""Turning validation errors into JSON paths a person can find in their query.

pydantic reports locations that include union tags (``criteria.all.all.0``); `json_path()`
walks the submitted document alongside the location and keeps only the steps that exist
in it, giving ``criteria.all[0]``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

__all__ = ["Problem", "json_path", "validation_problems"]

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
