"""The node service core: run the adapter, then protect every number before it leaves.

Exact counts exist only inside `NodeService.count()`; what it returns is a `NodeCount`
of protected numbers. Errors are reported without any count or data value in them.
`open_node(config)` opens the configured model's adapter through the registry.
"""

from __future__ import annotations

import hashlib
import json
import logging

from hyperfed.adapters.base import Adapter, ExactCount
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.disclosure import Policy, Protected, protect
from hyperfed.adapters.errors import QueryTimeout
from hyperfed.adapters.hql.bindings import Bindings
from hyperfed.adapters.hql.canonical import canonicalize, query_key
from hyperfed.adapters.hql.model import (
    AgeCriterion,
    AllCriterion,
    AnyCriterion,
    Criterion,
    NotCriterion,
    Query,
    dated,
)
from hyperfed.adapters.hql.strata import strata_grid
from hyperfed.adapters.hql.walk import iter_events
from hyperfed.adapters.node.catalog import CataloguePublisher
from hyperfed.adapters.node.config import NodeConfig
from hyperfed.adapters.protocol import Capabilities, CountRequest, Dataset, NodeCount, Stratum
from hyperfed.catalog.model import DatasetDescription

__all__ = ["NodeService", "open_node"]

log = logging.getLogger("hyperfed.node")


class NodeService:
    def __init__(self, config: NodeConfig, adapter: Adapter) -> None:
        self.config = config
        self.adapter = adapter
        self._secret = config.secret()
        self.catalogue = CataloguePublisher(config, adapter, self._secret)

    @property
    def node_id(self) -> str:
        return self.config.node.id

    def capabilities(self) -> Capabilities:
        return Capabilities(
            node=self.node_id,
            title=self.config.node.title or self.node_id,
            model=self.adapter.MODEL,
            datasets=self.public_datasets(),
            features=self.adapter.features(),
            policy=self.config.policy,
            policy_summary=self.config.policy.describe(),
            notes=self.adapter.describe(),
        )

    def public_datasets(self) -> list[Dataset]:
        """The datasets the node names in its capabilities: every one but the private."""
        return [
            Dataset(
                id=d.id,
                title=d.title if isinstance(d, DatasetDescription) else d.id,
                description=d.description if isinstance(d, DatasetDescription) else "",
            )
            for d in self.config.datasets
            if d.visibility != "private"
        ]

    def deadline(self, request: CountRequest) -> Deadline:
        """The tighter of the node's own query timeout and the time the hub waits."""
        waits = None if request.deadline_ms is None else request.deadline_ms / 1000
        found = Deadline.within(self.config.node.query_timeout, waits)
        assert found is not None
        return found

    def count(self, request: CountRequest, deadline: Deadline | None = None) -> NodeCount:
        query = dated(request.query)
        policy = self.config.policy  # never taken from the request (see disclosure.reprotect)
        deadline = deadline or self.deadline(request)
        try:
            exact = self.adapter.count(query, request.bindings, deadline)
        except (QueryTimeout, TimeoutError):
            log.warning("query timed out")
            return NodeCount(
                node=self.node_id,
                status="timeout",
                error=f"the query ran longer than its {deadline.budget:g} s deadline",
            )
        except Exception as exc:  # the node must answer, whatever broke
            log.exception("query failed")
            return NodeCount(
                node=self.node_id,
                status="error",
                error=f"the node could not run the query ({type(exc).__name__})",
            )
        return self.protect(exact, query, policy, request.bindings)

    def protect(
        self, exact: ExactCount, query: Query, policy: Policy, bindings: Bindings
    ) -> NodeCount:
        if exact.unsupported or exact.total is None:
            return NodeCount(
                node=self.node_id,
                status="unsupported",
                unsupported=exact.unsupported,
                notes=exact.notes,
            )
        # the question-keyed noise ignores how the answer is stratified: a total (or a
        # cell with the same labels) gets the same answer in every breakdown
        question = question_key(query, bindings)
        total = protect(exact.total, policy, self._secret, question)
        strata = None
        if exact.dimensions:
            strata = []
            for key in strata_grid(query):
                labels = dict(zip(exact.dimensions, key, strict=True))
                cell_key = dict(labels)
                if "age" in labels:  # age bands are ages on the reference date
                    cell_key["as_of"] = str(query.as_of)
                context = question + b"|" + json.dumps(cell_key, sort_keys=True).encode()
                cell = protect(exact.strata.get(key, 0), policy, self._secret, context)
                strata.append(Stratum(**cell.model_dump(), **labels))
        return _node_count(self.node_id, total, strata, exact.notes)


def open_node(config: NodeConfig) -> NodeService:
    """The node service of `config`: its model's adapter (found by name in the registry)
    opened on its source, with its policy and secret."""
    from hyperfed.adapters.registry import load_adapter_class

    cls = load_adapter_class(config.node.model)
    adapter = cls.from_source(config.resolved_source(), **config.adapter_options())
    try:
        return NodeService(config, adapter)
    except Exception:
        adapter.close()
        raise


def _node_count(
    node: str, total: Protected, strata: list[Stratum] | None, notes: list[str]
) -> NodeCount:
    return NodeCount(
        node=node,
        status="ok" if total.status == "ok" else "suppressed",
        count=total.count,
        countAdjustedTo=total.countAdjustedTo,
        countPrecision=total.countPrecision,
        strata=strata,
        notes=notes,
    )


def question_key(query: Query, bindings: Bindings) -> bytes:
    """What the question-keyed noise is keyed on: the canonical criteria and the concept
    bindings the node received (the same words meaning other codes are another question),
    without the stratification (a total gets one answer in every breakdown) and without
    the reference date unless ages depend on it (else every `as_of` would be a fresh,
    averageable draw of the same question)."""
    update: dict[str, object] = {"stratify": None}
    if not _uses_age(query.criteria):
        update["as_of"] = None
    canonical = canonicalize(query.model_copy(update=update))
    bound = json.dumps(
        {k: b.model_dump(mode="json") for k, b in sorted(bindings.items())}, sort_keys=True
    )
    return hashlib.sha256((query_key(canonical) + bound).encode()).hexdigest().encode()


def _uses_age(c: Criterion) -> bool:
    if isinstance(c, AgeCriterion):
        return True
    if isinstance(c, AllCriterion | AnyCriterion):
        return any(_uses_age(x) for x in (c.all if isinstance(c, AllCriterion) else c.any))
    if isinstance(c, NotCriterion):
        return _uses_age(c.not_)
    return any(e.age is not None for _, e in iter_events(c))
