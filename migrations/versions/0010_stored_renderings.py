"""stored renderings: certificate PDF and QR kept once rendered; the masked ID number kept at write time

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 01:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('qr_png', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('pdf', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number_masked', sa.String(length=18), nullable=True))
    _mask_existing()


def _mask_existing():
    """Fill the masked ID number of existing residents, in batches (decrypting needs the app's key)."""
    from miniapp_api.core.pii import cipher
    from policy.id_number import mask

    connection = op.get_bind()
    residents = sa.table('residents', sa.column('id'), sa.column('id_number_encrypted'), sa.column('id_number_masked'))
    after = 0
    with current_app.app_context():
        while rows := connection.execute(
            sa.select(residents.c.id, residents.c.id_number_encrypted)
            .where(residents.c.id > after).order_by(residents.c.id).limit(BATCH)
        ).all():
            connection.execute(
                residents.update().where(residents.c.id == sa.bindparam('row_id')),
                [{'row_id': row_id, 'id_number_masked': mask(cipher().decrypt(token))} for row_id, token in rows],
            )
            after = rows[-1][0]


def downgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('id_number_masked')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('pdf')
        batch_op.drop_column('qr_png')
