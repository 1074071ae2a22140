"""Serve several node services in one process (for benchmarks):
python -m bench._nodes WORKDIR PORT [PORT ...] — node i reads WORKDIR/n{i}.toml."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn

from hyperfed.adapters.node import NodeService, create_node_app, load_node_config
from hyperfed.adapters.omop import OmopAdapter
from hyperfed.hub.demo import serve_all


def main() -> None:
    work = Path(sys.argv[1])
    servers = []
    for i, port in enumerate(int(p) for p in sys.argv[2:]):
        config = load_node_config(work / f"n{i}.toml")
        service = NodeService(config, OmopAdapter.from_source(config.resolved_source()))
        servers.append(
            uvicorn.Config(
                create_node_app(service), host="127.0.0.1", port=port, log_level="warning"
            )
        )
    asyncio.run(serve_all(servers))


if __name__ == "__main__":
    main()
