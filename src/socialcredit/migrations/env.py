"""Alembic's environment: always run on the connection the service hands in."""

from __future__ import annotations

from alembic import context

from socialcredit.migrations import target_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=target_metadata(),
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
