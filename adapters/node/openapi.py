"""The node's OpenAPI 3.1 document: FastAPI's, completed with the `POST /count` request
body (`CountRequest`, with the whole HQL schema) and the problem+json error answers
(`hyperfed.adapters.openapi`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from hyperfed.adapters.openapi import complete_openapi
from hyperfed.adapters.protocol import CountRequest

__all__ = ["node_openapi"]


def node_openapi(app: FastAPI) -> dict[str, Any]:
    return complete_openapi(app, bodies={"/count": {"post": CountRequest}})
