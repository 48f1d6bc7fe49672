"""The referral form: who explained the duty to report and when, her equality data (a table of its
own, read only to count), and the reports made under a duty.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07 18:40:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('duty_explained_by', sa.String(length=200), nullable=False, server_default=''))
        batch.add_column(sa.Column('duty_explained_on', sa.Date(), nullable=True))
    op.create_table(
        'equality_answers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('ethnicity', sa.String(length=40), nullable=False),
        sa.Column('ethnicity_detail', sa.String(length=100), nullable=False),
        sa.Column('disability', sa.String(length=40), nullable=False),
        sa.Column('sexual_orientation', sa.String(length=40), nullable=False),
        sa.Column('gender', sa.String(length=40), nullable=False),
        sa.Column('age_16_17', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id'),
    )
    op.create_table(
        'mandatory_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('to_whom', sa.String(length=200), nullable=False),
        sa.Column('made_on', sa.Date(), nullable=False),
        sa.Column('duty', sa.String(length=200), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_mandatory_reports_case_id', 'mandatory_reports', ['case_id'])


def downgrade() -> None:
    op.drop_index('ix_mandatory_reports_case_id', 'mandatory_reports')
    op.drop_table('mandatory_reports')
    op.drop_table('equality_answers')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('duty_explained_on')
        batch.drop_column('duty_explained_by')
