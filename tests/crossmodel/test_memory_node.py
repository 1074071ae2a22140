"""The node service and the hub with a model that is not OMOP: an in-memory node and an
OMOP node, built from one population, behind a real hub over loopback HTTP, answer the
battery identically. Both release exact counts here (threshold 1, no rounding, no noise:
a test setting), so their answers can be compared number for number."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hyperfed.adapters.disclosure import Policy
from hyperfed.adapters.hql.bindings import CodesBinding, EveryoneBinding, SexBinding
from hyperfed.adapters.node import NodeService, create_node_app, open_node
from hyperfed.adapters.node.config import NodeConfig, NodeSettings
from hyperfed.adapters.registry import register, unregister
from hyperfed.hub.app import create_app
from hyperfed.hub.settings import HubSettings, NodeEntry
from hyperfed.ontology import Ontology
from tests.adapters.memory import MemoryAdapter
from tests.crossmodel import population
from tests.crossmodel.battery import QUESTIONS
from tests.identity import bearer
from tests.servers import serve

EXACT = Policy(threshold=1, rounding=1, epsilon=None)


def memory_bindings_ttl(onto: Ontology) -> str:
    """Bindings for model "memory": the OMOP bindings of the concepts the battery names."""
    lines = ["@prefix hf: <https://w3id.org/hyperfed/ontology#> ."]
    names = {q.criteria.get("concept") for q in QUESTIONS} | {"hf:Female", "hf:Male"}
    for name in sorted(n for n in names if n):
        binding = onto.resolve(name, "omop")
        iri = f"<{onto.expand(name)}>"
        if isinstance(binding, CodesBinding):
            for c in binding.codes:
                lines.append(f'{iri} hf:binding [ hf:model "memory" ; hf:system <{c.system}> ; '
                             f'hf:code "{c.code}" ] .')  # fmt: skip
        elif isinstance(binding, SexBinding):
            lines.append(f'{iri} hf:binding [ hf:model "memory" ; hf:sex "{binding.sex}" ] .')
        elif isinstance(binding, EveryoneBinding):
            lines.append(f'{iri} hf:binding [ hf:model "memory" ; hf:everyone true ] .')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hub(
    population_omop: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """The hub's URL and a researcher's `Authorization` headers."""
    base = tmp_path_factory.mktemp("memory-federation")
    register(MemoryAdapter)
    try:
        ttl = base / "memory.ttl"
        ttl.write_text(memory_bindings_ttl(Ontology.load()))
        omop = open_node(
            NodeConfig(
                node=NodeSettings(id="omop", source=f"duckdb://{population_omop}"),
                policy=EXACT,
                base_dir=base,
            )
        )
        memory = NodeService(
            NodeConfig(
                node=NodeSettings(id="memory", model="memory", source="memory:"),
                policy=EXACT,
                base_dir=base,
            ),
            MemoryAdapter(*population.load(population_omop)),
        )
        with serve(create_node_app(omop)) as o, serve(create_node_app(memory)) as m:
            settings = HubSettings(
                floor=EXACT,
                ontology_files=[ttl],
                nodes=[
                    NodeEntry(id="omop", url=o, model="omop"),
                    NodeEntry(id="memory", url=m, model="memory"),
                ],
            )
            app = create_app(settings)
            with serve(app) as url:
                yield url, bearer(url, app.state.hub.store, "memory-researcher", ["researcher"])
    finally:
        unregister("memory")


@pytest.mark.parametrize("question", QUESTIONS, ids=[q.id for q in QUESTIONS])
def test_the_hub_gets_one_answer_from_both_models(
    hub: tuple[str, dict[str, str]], question: Any
) -> None:
    hub_url, researcher = hub
    r = httpx.post(f"{hub_url}/queries", json=question.document(), headers=researcher, timeout=60)
    assert r.status_code == 200, r.text
    nodes = {n["node"]: n for n in r.json()["nodes"]}
    omop, memory = nodes["omop"], nodes["memory"]
    assert omop["status"] in ("ok", "suppressed"), omop
    for key in ("status", "count", "countAdjustedTo", "strata"):
        assert memory[key] == omop[key], (key, memory, omop)


def test_a_query_without_a_token_is_refused(hub: tuple[str, dict[str, str]]) -> None:
    hub_url, _ = hub
    r = httpx.post(f"{hub_url}/queries", json=QUESTIONS[0].document(), timeout=60)
    assert r.status_code == 401, r.text
    assert "sign in first" in r.json()["detail"]


def test_the_hub_lists_the_memory_node_with_its_model(hub: tuple[str, dict[str, str]]) -> None:
    hub_url, _ = hub
    nodes = {n["id"]: n for n in httpx.get(f"{hub_url}/nodes", timeout=30).json()}
    assert nodes["memory"]["capabilities"]["model"] == "memory"
    assert nodes["memory"]["capabilities"]["features"]["values"] is True
