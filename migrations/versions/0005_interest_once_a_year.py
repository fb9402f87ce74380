"""interest is credited once a year per account

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('uq_ledger_entries_interest_year', ['resident_id', 'year'], unique=True,
                              sqlite_where=sa.text("kind = 'interest'"), postgresql_where=sa.text("kind = 'interest'"))


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_entries_interest_year')
