"""Serve several node services in one process (for benchmarks):
python -m bench._nodes WORKDIR PORT [PORT ...] — node i reads WORKDIR/n{i}.toml."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn

from hyperfed.adapters.node import create_node_app, load_node_config, open_node
from hyperfed.hub.demo import serve_all


def main() -> None:
    work = Path(sys.argv[1])
    servers = []
    for i, port in enumerate(int(p) for p in sys.argv[2:]):
        service = open_node(load_node_config(work / f"n{i}.toml"))
        servers.append(
            uvicorn.Config(
                create_node_app(service), host="127.0.0.1", port=port, log_level="warning"
            )
        )
    asyncio.run(serve_all(servers))


if __name__ == "__main__":
    main()
