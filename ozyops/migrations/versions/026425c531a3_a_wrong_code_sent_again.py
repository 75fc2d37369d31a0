"""the last wrong code or recovery key, so the same one sent again is not counted twice

Revision ID: 026425c531a3
Revises: 5b1f3c2a9d47
Create Date: 2026-12-06 22:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '026425c531a3'
down_revision = '5b1f3c2a9d47'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mfa_last_wrong', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('mfa_last_wrong')
