"""Alembic environment of the hub's database: always run with a connection handed in
(`hyperfed.hub.db.engine.migrate`), never from an alembic.ini."""

from __future__ import annotations

from alembic import context

from hyperfed.hub.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover
    raise RuntimeError("run migrations through hyperfed.hub.db.migrate (hyperfed hub migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
