"""alerts: the deliveries' (alert, state) index also orders by id

Delivery records catch up with the outbox when an event about a send or a delivery report was
lost (``alerts.reconcile``): the worker walks one alert's queued or sent records in id order, a
range of this index. It replaces the (alert, state) index rather than adding one, so that a
city-scale fan-out does not maintain one more index on its quarter of a million rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alerts_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_deliveries_alert_state')
        batch_op.create_index('ix_alerts_deliveries_alert_state_id', ['alert_id', 'state', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alerts_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_deliveries_alert_state_id')
        batch_op.create_index('ix_alerts_deliveries_alert_state', ['alert_id', 'state'], unique=False)
