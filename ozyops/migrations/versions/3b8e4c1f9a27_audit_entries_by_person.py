"""audit entries found by the person they are about: the Security page asks whether the
latest change to someone's MFA was a reset, which without this read every entry of their
practice

Revision ID: 3b8e4c1f9a27
Revises: ff1de37ae504
Create Date: 2026-12-07 14:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3b8e4c1f9a27'
down_revision = 'ff1de37ae504'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_audit_events_target_event', 'audit_events', ['target_id', 'event', 'id']
    )


def downgrade():
    op.drop_index('ix_audit_events_target_event', table_name='audit_events')
