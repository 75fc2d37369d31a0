"""a pause on password sign-in after wrong passwords in a row

Revision ID: 5b1f3c2a9d47
Revises: de265f7b863c
Create Date: 2026-11-28 12:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1f3c2a9d47'
down_revision = 'de265f7b863c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('password_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('password_paused_until', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('password_paused_until')
        batch_op.drop_column('password_failures')
