"""alerts: CAP alerts imported from external authorities, the feeds polled for them, the SMS
keyword commands' retry guard, and the follow-up flag of deliveries

An imported alert is stored only once it passed every check (XSD, CAP rules, geometry, not
expired), once per (sender, identifier). The SMS guard keeps keyed hashes, never a number or a
text. ``followup`` marks what an Update sent to people its original reached and it no longer
covers, so that a later Update does not count them as reached by the alert.


Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 15:24:29.741587
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parvis.kernel.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alerts_import_feeds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=False),
    sa.Column('etag', sa.String(length=300), nullable=False),
    sa.Column('last_modified', sa.String(length=100), nullable=False),
    sa.Column('seen', sa.JSON(), nullable=False),
    sa.Column('polled_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ok_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts_import_feeds')),
    sa.UniqueConstraint('url', name=op.f('uq_alerts_import_feeds_url'))
    )
    op.create_table('alerts_sms_commands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_key', sa.String(length=64), nullable=False),
    sa.Column('text_key', sa.String(length=64), nullable=False),
    sa.Column('at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts_sms_commands')),
    sa.UniqueConstraint('sender_key', name=op.f('uq_alerts_sms_commands_sender_key'))
    )
    op.create_table('alerts_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=200), nullable=False),
    sa.Column('identifier', sa.String(length=200), nullable=False),
    sa.Column('sent', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('msg_type', sa.String(length=10), nullable=False),
    sa.Column('cap_references', sa.JSON(), nullable=False),
    sa.Column('references_import_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('source_url', sa.String(length=1000), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('flag', sa.String(length=40), nullable=False),
    sa.Column('flag_alert_id', sa.Integer(), nullable=True),
    sa.Column('event', sa.String(length=200), nullable=False),
    sa.Column('headline', sa.String(length=200), nullable=False),
    sa.Column('urgency', sa.String(length=12), nullable=False),
    sa.Column('severity', sa.String(length=12), nullable=False),
    sa.Column('certainty', sa.String(length=12), nullable=False),
    sa.Column('expires', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('proposal', sa.JSON(), nullable=False),
    sa.Column('area', sa.Text(), nullable=True),
    sa.Column('document', sa.LargeBinary(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=False),
    sa.Column('created_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', parvis.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts_alerts.id'], name=op.f('fk_alerts_imports_alert_id_alerts_alerts')),
    sa.ForeignKeyConstraint(['references_import_id'], ['alerts_imports.id'], name=op.f('fk_alerts_imports_references_import_id_alerts_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts_imports')),
    sa.UniqueConstraint('sender', 'identifier', name=op.f('uq_alerts_imports_sender'))
    )
    with op.batch_alter_table('alerts_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_imports_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index('ix_alerts_imports_state_created', ['state', 'created_at'], unique=False)

    # A plain ADD COLUMN on both engines (false on PostgreSQL, 0 on SQLite).
    op.add_column('alerts_deliveries', sa.Column('followup', sa.Boolean(), server_default=sa.false(),
                                                 nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('alerts_deliveries', schema=None) as batch_op:
        batch_op.drop_column('followup')

    with op.batch_alter_table('alerts_imports', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_imports_state_created')
        batch_op.drop_index(batch_op.f('ix_alerts_imports_alert_id'))

    op.drop_table('alerts_imports')
    op.drop_table('alerts_sms_commands')
    op.drop_table('alerts_import_feeds')
