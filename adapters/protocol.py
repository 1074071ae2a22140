"""The wire protocol between the hub and a node service (JSON over HTTP, pydantic models).

GET  /capabilities  -> Capabilities
POST /count         CountRequest -> NodeCount   (only protected numbers)
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hyperfed.adapters.disclosure import Policy, Protected
from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.model import Query

__all__ = [
    "PROTOCOL_VERSION",
    "Capabilities",
    "CountRequest",
    "Dataset",
    "NodeCount",
    "NodeStatus",
    "Stratum",
    "UnsupportedCriterion",
]

PROTOCOL_VERSION = "1"
MAX_COUNT = 10**10  # more persons than there are: anything larger is garbage

NodeStatus = Literal["ok", "suppressed", "unsupported", "error", "timeout"]


class Dataset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str
    description: str = ""


class Capabilities(BaseModel):
    """What a node is and can do; published to the hub, never patient-level."""

    model_config = ConfigDict(frozen=True)

    protocol: str = PROTOCOL_VERSION
    node: str
    title: str
    model: str
    datasets: list[Dataset] = []
    features: dict[str, bool] = {}
    policy: Policy
    policy_summary: str
    notes: list[str] = []


class CountRequest(BaseModel):
    """A query in canonical form with the bindings of its concepts for the node's model,
    and the time the hub waits for the answer (the node stops working when it passes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    query: Query
    bindings: Bindings = {}
    deadline_ms: Annotated[int | None, Field(ge=1, le=3_600_000)] = None


class UnsupportedCriterion(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    reason: str


class Stratum(Protected):
    sex: str | None = None
    age: str | None = None


class NodeCount(BaseModel):
    """A node's answer: protected numbers only, with how they were adjusted."""

    model_config = ConfigDict(frozen=True)

    node: str
    status: NodeStatus
    count: Annotated[int | None, Field(ge=0, le=MAX_COUNT)] = None
    countAdjustedTo: list[str | int] = []
    countPrecision: Literal["exact", "rounded", "imprecise"] | None = None
    strata: list[Stratum] | None = None
    unsupported: list[UnsupportedCriterion] = []
    notes: list[str] = []
    error: str | None = None
