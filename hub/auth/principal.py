"""Who is asking: a `Principal` (subject, roles) and the roles of the federation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ANONYMOUS", "ROLES", "Principal", "Role"]

Role = Literal["anonymous", "researcher", "operator", "admin", "node"]
ROLES: tuple[Role, ...] = ("anonymous", "researcher", "operator", "admin", "node")


@dataclass(frozen=True)
class Principal:
    """An authenticated subject (or `ANONYMOUS`). `id` is what jobs, budgets, node
    ownership and the audit are keyed on: the subject of the hub's own issuer, or
    `subject@issuer` for an external provider."""

    id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    issuer: str | None = None
    client_id: str | None = None

    @property
    def authenticated(self) -> bool:
        return bool(self.id)

    def has(self, role: str) -> bool:
        return role == "anonymous" or role in self.roles


ANONYMOUS = Principal(id="", roles=frozenset({"anonymous"}))
