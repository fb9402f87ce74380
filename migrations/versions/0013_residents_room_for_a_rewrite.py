"""residents at fillfactor 50 on PostgreSQL: every row of a page has room for its next version

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 07:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE residents SET (fillfactor = 50)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE residents SET (fillfactor = 80)')
