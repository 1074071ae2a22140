"""The node's catalogue publication over HTTP (`GET /catalog`): its dataset descriptions
from the config, the adapter's facts protected by the node's policy (no number in (0, k)),
private datasets kept out of `/capabilities`, computed once and cached."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import httpx

from hyperfed.adapters.node import create_node_app, load_node_config, open_node
from hyperfed.catalog import NodePublication
from tests.servers import serve

CONFIG = """
[node]
id = "eunomia"
title = "OHDSI Eunomia"
source = "duckdb://{source}"
contact = {{ name = "Data office", email = "data@eunomia.example" }}

[policy]
threshold = 10
rounding = 10
epsilon = false

[[datasets]]
id = "eunomia-omop"
title = "Eunomia GiBleed"

[[datasets]]
id = "eunomia-internal"
title = "Internal extract PRIVATE-MARKER"
description = "Not for the public."
visibility = "private"
facts = false
"""


def test_the_node_serves_its_protected_publication(tmp_path: Path, eunomia_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(CONFIG.format(source=eunomia_path))
    config = load_node_config(path)
    first = config.datasets[0]
    assert first.description == "Eunomia GiBleed"  # type: ignore[union-attr]  # the title
    service = open_node(config)
    with serve(create_node_app(service)) as url:
        r = httpx.get(f"{url}/catalog", timeout=60)
        again = httpx.get(f"{url}/catalog", timeout=60)
        caps = httpx.get(f"{url}/capabilities").json()
    assert r.status_code == 200 and again.content == r.content
    assert service.catalogue.computed == 1  # cached
    pub = NodePublication.model_validate_json(r.content)
    assert [d.description.id for d in pub.datasets] == ["eunomia-omop", "eunomia-internal"]
    assert pub.node.contact is not None and pub.datasets[1].facts is None
    facts = pub.datasets[0].facts
    assert facts is not None and facts.threshold == 10
    with duckdb.connect(str(eunomia_path), read_only=True) as con:
        persons = con.execute("SELECT count(*) FROM person").fetchone()[0]  # type: ignore[index]
    # no noise, rounding 10: the exact count rounded to the nearest 10
    assert facts.persons == round(persons / 10) * 10
    counts = [int(n) for n in re.findall(rb'"count":\s*(\d+)', r.content)]
    assert counts and all(n >= 10 for n in counts)
    # the private dataset is published to the hub (which keeps it apart), never named in
    # the capabilities the hub shows at /nodes
    assert [d["id"] for d in caps["datasets"]] == ["eunomia-omop"]
    assert "PRIVATE-MARKER" not in str(caps)
