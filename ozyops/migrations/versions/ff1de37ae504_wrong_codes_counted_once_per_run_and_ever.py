"""whether this run of wrong codes has already warned that the password is probably known,
and every wrong code ever (a pending sign-in's own are what it gained since it began)

Revision ID: ff1de37ae504
Revises: 7c3e9a1d5b20
Create Date: 2026-12-07 03:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ff1de37ae504'
down_revision = '7c3e9a1d5b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('mfa_warned', sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column('mfa_failures_total', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('mfa_failures_total')
        batch_op.drop_column('mfa_warned')
