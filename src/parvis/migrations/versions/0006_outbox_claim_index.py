"""notify: the outbox's claim index includes the channel and the id

A city-scale alert queues hundreds of thousands of messages at once. A worker claims the due
messages of one channel in (next_attempt_at, id) order: with the channel in the index, SMS
claims no longer walk past e-mails held back by their own rate limit, and the id breaks the
ties of a bulk enqueue (all its messages share one next_attempt_at) without a sort.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kernel_notify_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_kernel_notify_outbox_due')
        batch_op.create_index('ix_kernel_notify_outbox_claim', ['status', 'channel', 'next_attempt_at', 'id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('kernel_notify_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_kernel_notify_outbox_claim')
        batch_op.create_index('ix_kernel_notify_outbox_due', ['status', 'next_attempt_at'], unique=False)
