"""residents without the region index: no query reads by region, and every registry write paid for it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 10:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_residents_region_code'))


def downgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_residents_region_code'), ['region_code'], unique=False)
