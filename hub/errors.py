"""The root of the hub's errors (the tree is drawn in `hyperfed.hub`)."""

from __future__ import annotations

__all__ = ["HubError"]


class HubError(Exception):
    """Base of every error the hub raises."""
