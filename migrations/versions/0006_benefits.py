"""benefits: monthly payments, the benefit start per resident, inheritance paid once

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 19:55:33.937042

"""
from alembic import op
import sqlalchemy as sa
import models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('benefit_payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('account_pension_fen', sa.BigInteger(), nullable=False),
    sa.Column('exit_subsidy_fen', sa.BigInteger(), nullable=False),
    sa.Column('monthly_fen', sa.BigInteger(), nullable=False),
    sa.Column('booked_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('account_pension_fen >= 0 AND exit_subsidy_fen >= 0 AND monthly_fen = account_pension_fen + exit_subsidy_fen', name=op.f('ck_benefit_payments_amounts')),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_benefit_payments_resident_id_residents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_benefit_payments')),
    sa.UniqueConstraint('resident_id', 'month', name=op.f('uq_benefit_payments_resident_id_month'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('uq_ledger_entries_inheritance', ['resident_id'], unique=True, sqlite_where=sa.text("kind = 'inheritance_payout'"), postgresql_where=sa.text("kind = 'inheritance_payout'"))

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('benefit_started_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('benefit_account_pension_fen', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('benefit_account_pension_fen')
        batch_op.drop_column('benefit_started_on')

    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_entries_inheritance', sqlite_where=sa.text("kind = 'inheritance_payout'"), postgresql_where=sa.text("kind = 'inheritance_payout'"))

    op.drop_table('benefit_payments')
