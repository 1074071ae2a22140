"""The node service: wraps an adapter behind HTTP and applies disclosure control.

Also: `trust` (signed tasks, node keys: TaskVerifier), `guard` (require_hub_signature),
`pull` (PullLoop: a node that connects outward only).

Errors::

    AdapterError                (hyperfed.adapters.errors)
    ├── ConfigError             the node configuration is missing or invalid, naming the field
    └── TaskRefused             a task or result is not signed by whom it claims, not for this
                                node, expired, replayed or altered (trust)
    and the adapter's own SourceError / QueryTimeout.
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
