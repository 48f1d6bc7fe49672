"""The ground each agency joined a case on: her consent, an override, the team's basis, the
referral form or an accepted referral. Agencies already on a case keep no ground (NULL). And a
listed task done only through a referral or a consent of hers, with the one that fulfilled it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 18:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_agencies') as batch:
        batch.add_column(sa.Column('ground', sa.String(length=40), nullable=True))
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('needs', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('fulfilled_by', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('fulfilled_by')
        batch.drop_column('needs')
    with op.batch_alter_table('case_agencies') as batch:
        batch.drop_column('ground')
