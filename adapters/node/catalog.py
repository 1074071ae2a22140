"""The node's catalogue publication: what `GET /catalog` serves to the hub.

Every `[[datasets]]` description of the node config, with the facts its adapter computes
from the data (`Adapter.facts`) protected by the node's own policy and secret
(`hyperfed.catalog.node.node_publication`: exact facts never leave that call). Computing
facts reads the whole source, so the publication is made in a worker thread, once per
`node.catalog_cache` seconds (concurrent requests share one computation), and under the
node's query timeout. A dataset whose facts cannot be computed is published without
them (the reason is logged, never sent).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from hyperfed.adapters.base import Adapter
from hyperfed.adapters.deadline import Deadline
from hyperfed.adapters.facts import ExactFacts
from hyperfed.adapters.node.config import NodeConfig
from hyperfed.catalog.model import NodeInfo, NodePublication
from hyperfed.catalog.node import node_publication

__all__ = ["CataloguePublisher", "node_info"]

log = logging.getLogger("hyperfed.node")


def node_info(config: NodeConfig, model: str) -> NodeInfo:
    n = config.node
    return NodeInfo(
        id=n.id,
        title=n.title or n.id,
        description=n.description,
        publisher=n.publisher,
        contact=n.contact,
        homepage=n.homepage,
        model=model,
    )


class CataloguePublisher:
    def __init__(self, config: NodeConfig, adapter: Adapter | None, secret: bytes) -> None:
        """`adapter` None: descriptions only (`hyperfed catalog validate --no-facts`)."""
        self.config = config
        self.adapter = adapter
        self._secret = secret
        self._lock = threading.Lock()
        self._cached: tuple[float, bytes] | None = None
        self.computed = 0
        """How many times the facts were computed (the cache's hits are not counted)."""

    def exact_facts(self, as_of: dt.date) -> dict[str, ExactFacts]:
        """The exact facts of every dataset that has them (internal: used by `publish`)."""
        out: dict[str, ExactFacts] = {}
        if self.adapter is None:
            return out
        for d in self.config.datasets:
            if not d.facts:
                continue
            deadline = Deadline.after(self.config.node.query_timeout)
            try:
                facts = self.adapter.facts(d.id, as_of, deadline)
            except Exception as exc:  # a dataset without facts is still described
                log.warning("facts of dataset %s not computed (%s)", d.id, type(exc).__name__)
                continue
            if facts is not None:
                out[d.id] = facts
        return out

    def publish(self, as_of: dt.date | None = None) -> NodePublication:
        """The publication now (no cache)."""
        as_of = as_of or dt.date.today()
        return node_publication(
            node_info(self.config, self.adapter.MODEL if self.adapter else self.config.node.model),
            self.config.datasets,
            self.exact_facts(as_of),
            self.config.policy,
            self._secret,
        )

    def body(self) -> bytes:
        """The publication as JSON, from the cache while it is fresh (blocking: call it in
        a worker thread)."""
        ttl = self.config.node.catalog_cache
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < ttl:
                return self._cached[1]
            content = self.publish().model_dump_json().encode()
            self.computed += 1
            self._cached = (now, content)
            return content
