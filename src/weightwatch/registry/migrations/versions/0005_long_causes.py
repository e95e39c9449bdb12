"""A decision's cause names a model ("takedown of NAMESPACE/NAME@N"), which can be ~310
characters long: widen ``decisions.cause`` from 40 characters to text.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("cause", type_=sa.Text, existing_type=sa.String(40), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("cause", type_=sa.String(40), existing_type=sa.Text, nullable=False)
