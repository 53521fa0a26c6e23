"""A transaction that queues SMS wakes the workers: on PostgreSQL, an insert into sms_outbox
notifies the channel ``sms_outbox``, which idle workers listen on.

FOR EACH STATEMENT, and PostgreSQL folds identical notifications of one transaction into
one, so placing an order sends one notification, at its commit, and costs no round trip.
Elsewhere (SQLite) the workers poll.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION sms_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('sms_outbox', '');
            RETURN NULL;
        END
        $$
    """)
    op.execute("""
        CREATE TRIGGER sms_outbox_queued AFTER INSERT ON sms_outbox
        FOR EACH STATEMENT EXECUTE FUNCTION sms_outbox_notify()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER sms_outbox_queued ON sms_outbox")
    op.execute("DROP FUNCTION sms_outbox_notify()")
