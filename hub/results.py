"""What the hub returns for a federated query (JSON)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from hyperfed.adapters.protocol import NodeCount

__all__ = ["FederatedResult", "NodeResult", "TotalResult", "TotalStratum"]


class NodeResult(NodeCount):
    """One node's protected answer, as seen by the hub."""

    title: str = ""
    elapsed_ms: float | None = None


class TotalResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int | None
    status: Literal["ok", "suppressed", "unavailable"]
    countAdjustedTo: list[str | int]
    countPrecision: Literal["exact", "rounded", "imprecise"]
    nodes_counted: int
    lower_bound: bool
    note: str = ""


class TotalStratum(TotalResult):
    sex: str | None = None
    age: str | None = None


class FederatedResult(BaseModel):
    id: str
    status: Literal["running", "done", "failed", "interrupted"]
    error: str | None = None
    created: dt.datetime
    finished: dt.datetime | None = None
    as_of: dt.date
    query_key: str
    query: dict[str, Any]
    total: TotalResult | None = None
    strata: list[TotalStratum] | None = None
    nodes: list[NodeResult] = []
