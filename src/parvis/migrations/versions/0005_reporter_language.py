"""reports: the language a reporter without an account is answered in

Anonymous web reports (confirmed by a code), API reports and hotline calls keep the reporter's
language, so that every SMS or e-mail about the report reaches them in it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 01:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both engines: the table (and its triggers) stays as it is.
    op.add_column('reports_reports', sa.Column('reporter_language', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reports_reports') as batch:
        batch.drop_column('reporter_language')
