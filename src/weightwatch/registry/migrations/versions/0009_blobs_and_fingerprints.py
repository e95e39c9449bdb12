"""Several hosts: blob claims (the garbage collector's guard against registrations in
flight) and fingerprints held in the database, numbered so each host's index catches up.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("host", sa.String(300)))
    op.create_table(
        "blob_claims",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("touched_at", sa.Float, nullable=False),
    )
    op.create_table(
        "fingerprints",
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), primary_key=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("layers", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "fingerprint_index",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=False),
    )
    op.create_index(
        "ix_fingerprint_index_version", "fingerprint_index", ["version_id"], unique=True
    )
    # the blob collector asks, per candidate blob, whether any file still names it
    op.create_index("ix_files_sha256", "files", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_files_sha256", "files")
    op.drop_index("ix_fingerprint_index_version", "fingerprint_index")
    op.drop_table("fingerprint_index")
    op.drop_table("fingerprints")
    op.drop_table("blob_claims")
    op.drop_column("uploads", "host")
