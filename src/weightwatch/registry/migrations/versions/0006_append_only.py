"""The audit trails are append-only in the database itself: triggers refuse UPDATE and
DELETE (and, on PostgreSQL, TRUNCATE) of ``downloads`` and ``events``, so neither a bug
nor a careless script run with the application's credentials can rewrite who fetched
what or who decided what.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("downloads", "events")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION weightwatch_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        for t in TABLES:
            op.execute(
                f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION weightwatch_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION weightwatch_append_only()"
            )
        return
    for t in TABLES:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {t}_no_{event.lower()} BEFORE {event} ON {t} "
                f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in TABLES:
            op.execute(f"DROP TRIGGER {t}_append_only ON {t}")
            op.execute(f"DROP TRIGGER {t}_no_truncate ON {t}")
        op.execute("DROP FUNCTION weightwatch_append_only()")
        return
    for t in TABLES:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER {t}_no_{event}")
