"""The hub's durable state: SQLAlchemy 2 models, Alembic migrations, `HubStore`.

    models     the tables (jobs, audit_records + audit_head, nodes, principals, clients,
               auth_codes, refresh_tokens, signing_keys, budget_events)
    engine     SQLite (WAL, synchronous=FULL, BEGIN IMMEDIATE) or PostgreSQL (psycopg 3)
               engines; `migrate(engine)` brings a database to the newest revision
    chain      the audit hash chain (pure): canonical JSON, link hashes, verification
    store      `HubStore`: jobs, the audit trail and the sub-stores below
    nodes, identity, budgets   the registry's, issuer's and budgets' rows

Errors::

    SchemaOutdated   the database is behind the code and migrations were not allowed
"""

from hyperfed.hub.db.chain import ChainReport, verify_chain, verify_jsonl
from hyperfed.hub.db.engine import make_engine, migrate
from hyperfed.hub.db.store import HubStore, SchemaOutdated

__all__ = [
    "ChainReport",
    "HubStore",
    "SchemaOutdated",
    "make_engine",
    "migrate",
    "verify_chain",
    "verify_jsonl",
]
