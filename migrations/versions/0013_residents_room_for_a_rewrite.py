"""residents at fillfactor 50 on PostgreSQL: every row of a page has room for its next version

The feed's upsert never changes an indexed column, so with room on the page each rewrite is a HOT
update (no index entries): docs/performance.md, "Registry sync". PostgreSQL applies a fillfactor to
pages written from then on; a table that already holds residents gets it for all of them from
`VACUUM FULL residents` (or pg_repack, without the exclusive lock) in a maintenance window after this
upgrade.

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
