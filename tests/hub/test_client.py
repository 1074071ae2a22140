"""The hub's node client on its own, over a scripted transport (each node's reply is
written by the test), so every way a node can fail is exercised without a network; the
same paths over real HTTP are in test_federation."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import pytest

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.protocol import CountRequest
from hyperfed.hub.client import MAX_RESPONSE_BYTES, NodeClient
from hyperfed.hub.prepare import prepare
from hyperfed.hub.settings import NodeEntry
from hyperfed.hub.transport import NodeUnreachable, Operation, Reply
from hyperfed.ontology import Ontology

GI = {"code": {"system": "http://snomed.info/sct", "code": "74474003"}}


def answer(node: str, **fields: Any) -> bytes:
    body = {
        "node": node,
        "status": "ok",
        "count": 480,
        "countAdjustedTo": ["laplace(epsilon=0.5)", 10],
        "countPrecision": "imprecise",
        **fields,
    }
    return json.dumps(body).encode()


class Scripted:
    """A transport whose replies the test writes: bytes, an exception, or a delay."""

    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.sent: dict[str, bytes | None] = {}

    async def open(self, nodes: Sequence[NodeEntry]) -> None:
        pass

    async def call(self, node: NodeEntry, operation: Operation, body: bytes | None) -> Reply:
        self.sent[node.id] = body
        reply = self.replies[node.id]
        if isinstance(reply, float):
            await asyncio.sleep(reply)
            return Reply(200, answer(node.id))
        if isinstance(reply, Exception):
            raise reply
        status, content = reply
        return Reply(status, content)

    async def close(self) -> None:
        pass


def node(node_id: str, deadline: float | None = None) -> NodeEntry:
    return NodeEntry(id=node_id, url="http://127.0.0.1:9", deadline=deadline)


@pytest.fixture(scope="module")
def prepared() -> Any:
    doc = {"hql": "1", "criteria": GI}
    return prepare(doc, Ontology.load(), {"omop"}, dt.date(2024, 1, 1))


def test_every_failure_gets_its_status_and_no_number(prepared: Any) -> None:
    replies = {
        "ok": (200, answer("ok")),
        "slow": 5.0,
        "down": NodeUnreachable("ConnectError"),
        "broken": (500, b"boom"),
        "garbage": (200, b"{not json"),
        "liar": (200, answer("someone-else")),
        "huge": (200, b" " * (MAX_RESPONSE_BYTES + 1)),
        "negative": (200, answer("negative", count=-5)),
        "noiseless": (200, answer("noiseless", countAdjustedTo=[10], countPrecision="rounded")),
        "small": (200, answer("small", count=3, countAdjustedTo=[1], countPrecision="imprecise")),
    }
    nodes = [node(n, deadline=0.3 if n == "slow" else None) for n in replies]
    client = NodeClient(Scripted(replies), Policy(), deadline=10)
    results = {r.node: r for r in asyncio.run(client.fan_out(nodes, prepared))}
    assert results["ok"].status == "ok" and results["ok"].count == 480
    expected = {
        "slow": ("timeout", "no answer within 0.3 s"),
        "down": ("error", "node unreachable (ConnectError)"),
        "broken": ("error", "node answered HTTP 500"),
        "garbage": ("error", "node sent an invalid response"),
        "liar": ("error", "node identified itself as 'someone-else'"),
        "huge": ("error", "node sent an oversized response"),
        "negative": ("error", "node sent an invalid response"),
        "noiseless": (
            "error",
            "node releases counts without noise; the federation floor requires noise",
        ),
    }
    for name, (status, error) in expected.items():
        assert (results[name].status, results[name].error) == (status, error), name
        assert results[name].count is None and results[name].strata is None
    # a lax node's 3 is re-protected under the floor (threshold 10): suppressed, no number
    assert results["small"].status == "suppressed" and results["small"].count is None
    assert results["small"].countAdjustedTo == ["<10"]


def test_each_node_is_sent_its_models_bindings_and_its_deadline(prepared: Any) -> None:
    transport = Scripted({"a": (200, answer("a")), "b": (200, answer("b"))})
    client = NodeClient(transport, Policy(), deadline=7.5)
    asyncio.run(client.fan_out([node("a"), node("b", deadline=2.0)], prepared))
    a = CountRequest.model_validate_json(transport.sent["a"] or b"")
    b = CountRequest.model_validate_json(transport.sent["b"] or b"")
    assert (a.deadline_ms, b.deadline_ms) == (7500, 2000)
    assert a.query == prepared.query and a.query.as_of == dt.date(2024, 1, 1)


def test_capabilities_come_through_the_same_transport() -> None:
    caps = {
        "node": "a",
        "title": "A",
        "model": "omop",
        "policy": Policy().model_dump(),
        "policy_summary": "k=10",
    }
    transport = Scripted({"a": (200, json.dumps(caps).encode())})
    got = asyncio.run(NodeClient(transport, Policy(), 5).capabilities(node("a"), 1.0))
    assert got.model == "omop" and transport.sent["a"] is None  # a GET, no body
