"""Who may call which route: one declarative table, (method, path template) -> roles.

`anonymous` allows everyone (signed in or not); `node` is a node authenticated by its own
key (pull mode). A route with no rule is refused (fail closed) by `Auth.guard`, and
`routes_without_rules(app)` lets a test fail the suite for it. Per-object rules (a
researcher sees their own jobs, an operator manages their own nodes) are checked by the
handlers with `owns`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Route

from hyperfed.hub.auth.principal import Principal

__all__ = ["HUB_RULES", "PUBLIC", "Rules", "app_routes", "owns", "routes_without_rules"]

Rules = Mapping[tuple[str, str], frozenset[str]]

PUBLIC = frozenset({"anonymous"})
_RESEARCHER = frozenset({"researcher"})
_READ_JOB = frozenset({"researcher", "admin"})
_OPERATOR = frozenset({"operator", "admin"})
_ADMIN = frozenset({"admin"})
_SIGNED_IN = frozenset({"researcher", "operator", "admin"})
_NODE = frozenset({"node"})

HUB_RULES: Rules = {
    # what the hub is, the API documents
    ("GET", "/"): PUBLIC,  # the FAIR Data Point root (the catalogue)
    ("GET", "/api"): PUBLIC,  # the hub's JSON index
    ("GET", "/health"): PUBLIC,
    ("GET", "/schema/query"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    # the public catalogue: nodes and their datasets, the ontology
    ("GET", "/nodes"): PUBLIC,
    ("GET", "/concepts"): PUBLIC,
    ("GET", "/concepts/{ref:path}"): PUBLIC,
    ("GET", "/ontology"): PUBLIC,
    ("GET", "/ontology/sparql"): PUBLIC,
    ("POST", "/ontology/sparql"): PUBLIC,
    # the FAIR catalogue: every public document, harvest and SPARQL is anonymous (private
    # datasets are in none of them); refreshing and the refresh status are for admins
    ("GET", "/catalog"): PUBLIC,
    ("GET", "/catalog.{ext}"): PUBLIC,
    ("GET", "/catalog/{path:path}"): PUBLIC,
    ("GET", "/catalog/{node}/dataset/{dataset}/datacite"): PUBLIC,
    ("GET", "/services/{name}"): PUBLIC,
    ("GET", "/sparql"): PUBLIC,
    ("POST", "/sparql"): PUBLIC,
    ("POST", "/catalog/_validate"): _OPERATOR,
    ("GET", "/catalog/_status"): _ADMIN,
    ("POST", "/catalog/_refresh"): _ADMIN,
    ("POST", "/catalog/_refresh/{node}"): _ADMIN,
    # identity (the built-in issuer)
    ("GET", "/.well-known/openid-configuration"): PUBLIC,
    ("GET", "/.well-known/oauth-authorization-server"): PUBLIC,
    ("GET", "/oauth/jwks"): PUBLIC,
    ("POST", "/oauth/token"): PUBLIC,
    ("GET", "/oauth/authorize"): PUBLIC,
    ("POST", "/oauth/authorize"): PUBLIC,
    # researchers: query, see their own results, history and budget
    ("POST", "/queries"): _RESEARCHER,
    ("GET", "/queries/{job_id}"): _READ_JOB,
    ("GET", "/me"): _SIGNED_IN,
    ("GET", "/me/queries"): _RESEARCHER,
    ("GET", "/me/budget"): _RESEARCHER,
    # node operators: their own nodes (admins: all)
    ("POST", "/registry/nodes"): _OPERATOR,
    ("GET", "/registry/nodes"): _OPERATOR,
    ("GET", "/registry/nodes/{node_id}"): _OPERATOR,
    ("POST", "/registry/nodes/{node_id}/handshake"): _OPERATOR,
    ("POST", "/registry/nodes/{node_id}/suspend"): _OPERATOR,
    ("POST", "/registry/nodes/{node_id}/rekey"): _OPERATOR,
    ("DELETE", "/registry/nodes/{node_id}"): _OPERATOR,
    # admins: approve nodes, people and roles, keys, the audit trail
    ("POST", "/registry/nodes/{node_id}/approve"): _ADMIN,
    ("POST", "/registry/nodes/{node_id}/resume"): _ADMIN,
    ("GET", "/admin/principals/{subject}"): _ADMIN,
    ("PUT", "/admin/principals/{subject}"): _ADMIN,
    ("POST", "/admin/keys/rotate"): _ADMIN,
    ("GET", "/audit"): _ADMIN,
    ("GET", "/audit/verify"): _ADMIN,
    ("GET", "/audit/export"): _ADMIN,
    # nodes in pull mode (authenticated by their own key)
    ("GET", "/pull/{node_id}/tasks"): _NODE,
    ("POST", "/pull/{node_id}/results/{task_id}"): _NODE,
}


def owns(principal: Principal, owner: str | None) -> bool:
    """A per-object rule: the owner, or an admin."""
    return principal.has("admin") or (principal.authenticated and principal.id == owner)


def app_routes(app: FastAPI) -> Iterable[tuple[str, str]]:
    """Every (method, path template) the app serves (HEAD/OPTIONS left out)."""
    yield from _routes(app.routes, "")


def _routes(routes: Iterable[Any], prefix: str) -> Iterable[tuple[str, str]]:
    for route in routes:
        if isinstance(route, APIRoute | Route):
            for method in sorted(route.methods or ()):
                if method not in ("HEAD", "OPTIONS"):
                    yield method, prefix + route.path
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.165: included routers
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _routes(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))


def routes_without_rules(app: FastAPI, rules: Rules = HUB_RULES) -> list[tuple[str, str]]:
    return [r for r in app_routes(app) if r not in rules]
