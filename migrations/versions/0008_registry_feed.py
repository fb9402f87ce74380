"""registry feed: the sync cursor, every registry fact on residents, enrolment, n normal orders a year

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:50:00.000000

"""
from alembic import op
import sqlalchemy as sa
import models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

LIVE_YEARLY = "status IN ('pending', 'paid') AND kind IN ('normal', 'back_payment', 'proxy')"


def upgrade():
    op.create_table('registry_cursors',
    sa.Column('feed', sa.String(length=32), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('changes_applied', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('feed', name=op.f('pk_registry_cursors'))
    )
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('basic_pension_paid_years', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('registration_updated_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('enrolled', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('registry_seq', sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        # Room in each page for a row's next version: `registry sync` rewrites a resident's facts, never an
        # indexed column (public id, blind index, region aside), so the update is HOT (no index writes).
        op.execute('ALTER TABLE residents SET (fillfactor = 80)')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slot', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_check_constraint('slot', 'slot >= 1')
        batch_op.drop_index('uq_orders_live_year', sqlite_where=sa.text(LIVE_YEARLY), postgresql_where=sa.text(LIVE_YEARLY))
        batch_op.create_index('uq_orders_live_year', ['resident_id', 'year', 'kind', 'slot'], unique=True, sqlite_where=sa.text(LIVE_YEARLY), postgresql_where=sa.text(LIVE_YEARLY))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE residents RESET (fillfactor)')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('uq_orders_live_year', sqlite_where=sa.text(LIVE_YEARLY), postgresql_where=sa.text(LIVE_YEARLY))
        batch_op.create_index('uq_orders_live_year', ['resident_id', 'year', 'kind'], unique=True, sqlite_where=sa.text(LIVE_YEARLY), postgresql_where=sa.text(LIVE_YEARLY))
        batch_op.drop_constraint(batch_op.f('ck_orders_slot'), type_='check')
        batch_op.drop_column('slot')

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('registry_seq')
        batch_op.drop_column('enrolled')
        batch_op.drop_column('registration_updated_on')
        batch_op.drop_column('basic_pension_paid_years')

    op.drop_table('registry_cursors')
