"""Alembic environment: runs on the connection the registry hands over (never a URL)."""

from __future__ import annotations

from alembic import context

from weightwatch.registry.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
