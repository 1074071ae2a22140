"""The Hyperfed hub: query preparation, fan-out to nodes, totals, jobs, audit, HTTP API
and the `hyperfed` command line. Errors become problem+json only in `hub.problems` (bodies
built by `hyperfed.adapters.problems`).

Errors::

    HubError                  (hub.errors)
    ├── SettingsError         hub configuration missing or invalid, naming the field
    ├── QueryRejected         a query failed validation: `problems` name JSON paths (422)
    ├── NodeUnreachable       a node could not be reached (the node client's status `error`)
    ├── SchemaOutdated        the database is behind the code, migrations not allowed (hub.db)
    ├── TokenRejected         a bearer token is not acceptable (hub.auth); AuthProblem 401/403/429
    ├── LoginError            the CLI could not sign in or find a token (hub.auth.cli)
    └── RegistryError         a registry request cannot be done (hub.registry)
        └── NodeNotFound, NodeForbidden (another operator's node), NodeConflict (id taken)
    ProblemError              (adapters.problems) what a route refuses: BadRequest 400,
                              NotFound 404, Invalid 422

Durable state: hub.db (HubStore, migrations, the audit chain); identity and access:
hub.auth; nodes: hub.registry, hub.signing, hub.pull; budgets: hub.budgets.
"""

__all__ = ["create_app", "load_settings"]


def __getattr__(name: str) -> object:
    # lazy: `import hyperfed.hub.cli` must not pay for FastAPI and the ontology
    if name == "create_app":
        from hyperfed.hub.app import create_app

        return create_app
    if name == "load_settings":
        from hyperfed.hub.settings import load_settings

        return load_settings
    raise AttributeError(name)
