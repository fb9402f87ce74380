"""idempotency reservations: the order placed for a key before the tax bureau is asked

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_idempotency_records_order_id_orders'), 'orders', ['order_id'], ['id'])
        batch_op.alter_column('status_code', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('body', existing_type=sa.JSON(), nullable=True)


def downgrade():
    op.execute("DELETE FROM idempotency_records WHERE status_code IS NULL")
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.alter_column('body', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('status_code', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_idempotency_records_order_id_orders'), type_='foreignkey')
        batch_op.drop_column('order_id')
