"""Recipient-traceable copies: which versions are served as per-recipient marked copies,
the copies made (content-addressed blobs, one per changed file and recipient), and the
key id of the copy each download served.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recipient_marks",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), primary_key=True),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "recipient_copies",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), primary_key=True),
        sa.Column("user", sa.String(200), primary_key=True),
        sa.Column("path", sa.String(1000), primary_key=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("original_sha256", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_recipient_copies_key", "recipient_copies", ["key_id"])
    op.add_column("downloads", sa.Column("copy_key_id", sa.String(64)))


def downgrade() -> None:
    op.drop_column("downloads", "copy_key_id")
    op.drop_index("ix_recipient_copies_key", "recipient_copies")
    op.drop_table("recipient_copies")
    op.drop_table("recipient_marks")
