"""benefits for everyone: payment parts and arrears, recovery entries, later inheritances, interest years

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:45:00

"""
import datetime as dt
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa
import models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

KINDS_BEFORE = ("personal", "government_subsidy", "collective_subsidy", "sponsorship", "interest",
                "benefit_payout", "inheritance_payout")
KINDS = KINDS_BEFORE[:-1] + ("recovery", "inheritance_payout")
AMOUNTS_BEFORE = ("account_pension_fen >= 0 AND exit_subsidy_fen >= 0 "
                  "AND monthly_fen = account_pension_fen + exit_subsidy_fen")
AMOUNTS = ("account_pension_fen >= 0 AND fund_pension_fen >= 0 AND exit_subsidy_fen >= 0 AND supplements_fen >= 0 "
           "AND monthly_fen = account_pension_fen + fund_pension_fen + exit_subsidy_fen + supplements_fen")
CLOSING = "kind = 'inheritance_payout' AND order_id IS NULL"
INHERITANCE = "kind = 'inheritance_payout'"


def _kinds(kinds):
    return "kind IN ({})".format(", ".join(f"'{k}'" for k in kinds))


def _backfill_benefit_started_at():
    """Pensions started before this revision begin at midnight Beijing time of their first month, so that
    contributions credited after the start raise them (R11) like those of pensions started later."""
    residents = sa.table(
        'residents',
        sa.column('benefit_started_on', sa.Date()),
        sa.column('benefit_started_at', models.base.UtcDateTime(timezone=True)),
    )
    bind = op.get_bind()
    starts = bind.execute(sa.select(residents.c.benefit_started_on).distinct().where(
        residents.c.benefit_started_on.is_not(None))).scalars().all()
    for start in starts:  # one statement per month in which pensions started
        bind.execute(residents.update().where(residents.c.benefit_started_on == start).values(
            benefit_started_at=dt.datetime(start.year, start.month, 1, tzinfo=ZoneInfo('Asia/Shanghai'))))


def upgrade():
    op.create_table('interest_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('credited_at', models.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_interest_years'))
    )
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('benefit_started_at', models.base.UtcDateTime(timezone=True), nullable=True))
    _backfill_benefit_started_at()

    with op.batch_alter_table('benefit_payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fund_pension_fen', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('supplements_fen', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('arrears', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.drop_constraint(op.f('ck_benefit_payments_amounts'), type_='check')
        batch_op.create_check_constraint('amounts', AMOUNTS)

    _ledger(_kinds(KINDS), CLOSING)
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('uq_ledger_entries_recovery', ['resident_id'], unique=True,
                              sqlite_where=sa.text("kind = 'recovery'"), postgresql_where=sa.text("kind = 'recovery'"))


def downgrade():
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_entries_recovery', sqlite_where=sa.text("kind = 'recovery'"),
                            postgresql_where=sa.text("kind = 'recovery'"))
    _ledger(_kinds(KINDS_BEFORE), INHERITANCE)
    with op.batch_alter_table('benefit_payments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_benefit_payments_amounts'), type_='check')
        batch_op.create_check_constraint('amounts', AMOUNTS_BEFORE)
        batch_op.drop_column('arrears')
        batch_op.drop_column('supplements_fen')
        batch_op.drop_column('fund_pension_fen')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('benefit_started_at')
    op.drop_table('interest_years')


def _ledger(kinds_check, inheritance_where):
    """The ledger's kinds and its closing-inheritance index. SQLite rebuilds the table for a new CHECK,
    which drops its append-only triggers: they are made again (PostgreSQL alters in place)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table('ledger_entries', schema=None, recreate='always' if sqlite else 'auto') as batch_op:
        batch_op.drop_index('uq_ledger_entries_inheritance')
        batch_op.drop_constraint(op.f('ck_ledger_entries_kind'), type_='check')
        batch_op.create_check_constraint('kind', kinds_check)
        batch_op.create_index('uq_ledger_entries_inheritance', ['resident_id'], unique=True,
                              sqlite_where=sa.text(inheritance_where), postgresql_where=sa.text(inheritance_where))
    if sqlite:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER IF EXISTS ledger_entries_no_{action.lower()}")
            op.execute(f"CREATE TRIGGER ledger_entries_no_{action.lower()} BEFORE {action} ON ledger_entries "
                       "BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END")
