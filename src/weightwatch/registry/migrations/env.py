"""Alembic environment: runs on the connection the registry hands over (never a URL)."""

from __future__ import annotations

from alembic import context

from weightwatch.attest.logstore import metadata as log_metadata
from weightwatch.registry.schema import metadata

# The transparency log's tables live in the registry's database too (so a registration
# and its log entry commit together); naming both keeps autogenerate from dropping them.
connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=[metadata, log_metadata], render_as_batch=True
)
with context.begin_transaction():
    context.run_migrations()
