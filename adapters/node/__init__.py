"""The node service: wraps an adapter behind HTTP and applies disclosure control.

Errors: `ConfigError` (an `AdapterError`: the node configuration file is missing or invalid,
naming the field); the adapter's own `SourceError` / `QueryTimeout`.
"""

from hyperfed.adapters.node.app import create_node_app
from hyperfed.adapters.node.config import ConfigError, NodeConfig, load_node_config
from hyperfed.adapters.node.service import NodeService, open_node

__all__ = [
    "ConfigError",
    "NodeConfig",
    "NodeService",
    "create_node_app",
    "load_node_config",
    "open_node",
]
