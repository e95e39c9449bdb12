"""Sign-in attempts, for the throttle (``registry/signin.py``): one row per attempt,
reserved before the password is checked so that concurrent guesses are counted before
any of them is tried; ``outcome`` is ``pending`` until the check ends (``failed``,
``ok``) or ``refused`` when the throttle turned it away.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("login_attempts_client", "login_attempts", ["client", "created_at"])


def downgrade() -> None:
    op.drop_index("login_attempts_client", "login_attempts")
    op.drop_table("login_attempts")
