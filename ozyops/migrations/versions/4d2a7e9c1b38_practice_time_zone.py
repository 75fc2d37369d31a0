"""a practice's time zone, for the clock times its people read (UTC until its owner sets it)

Revision ID: 4d2a7e9c1b38
Revises: 3b8e4c1f9a27
Create Date: 2026-12-07 19:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '4d2a7e9c1b38'
down_revision = '3b8e4c1f9a27'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.add_column(
            sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.drop_column('time_zone')
