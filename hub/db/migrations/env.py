"""Alembic environment of the hub's database: always run with a connection handed in
(`hyperfed.hub.db.engine.migrate`), never from an alembic.ini. Importing this module
outside a migration does nothing."""

from __future__ import annotations

from alembic import context

from hyperfed.hub.db.models import Base


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through hyperfed.hub.db.migrate (hyperfed hub migrate)")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # alembic is running this environment
    run()
