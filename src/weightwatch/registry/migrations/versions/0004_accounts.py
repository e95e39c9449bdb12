"""Accounts for the server: users, organisations owning namespaces, browser sessions,
per-model access settings, gate answers on access requests, an append-only audit log of
actions, and resumable uploads.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("country", sa.String(2)),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("disabled_at", sa.String(40)),
    )
    op.create_table(
        "orgs",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("org", sa.String(100), sa.ForeignKey("orgs.name"), primary_key=True),
        sa.Column("user", sa.String(200), sa.ForeignKey("users.name"), primary_key=True),
    )
    op.create_table(
        "namespaces",
        sa.Column("namespace", sa.String(100), primary_key=True),
        sa.Column("org", sa.String(100), sa.ForeignKey("orgs.name"), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(200), sa.ForeignKey("users.name"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "model_access",
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), primary_key=True),
        sa.Column("gate_mode", sa.String(10), nullable=False),
        sa.Column("allowed_orgs", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.add_column("grants", sa.Column("answers", sa.Text))
    op.add_column("grants", sa.Column("decided_by", sa.String(200)))
    op.add_column("grants", sa.Column("requested_at", sa.String(40)))
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("actor", sa.String(200)),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(400)),
        sa.Column("detail", sa.Text),
        sa.Column("client", sa.String(100)),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("model", sa.String(300), nullable=False),
        sa.Column("access", sa.String(20), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id")),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for table in ("uploads", "events", "model_access", "sessions", "namespaces"):
        op.drop_table(table)
    with op.batch_alter_table("grants") as batch:
        for column in ("requested_at", "decided_by", "answers"):
            batch.drop_column(column)
    for table in ("memberships", "orgs", "users"):
        op.drop_table(table)
