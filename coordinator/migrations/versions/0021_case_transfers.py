"""Case transfers between MARACs: the bundles sent and received, and this deployment's signing key.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 18:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'transfers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('bundle_id', sa.String(length=64), nullable=False),
        sa.Column('direction', sa.String(length=3), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('deployment', sa.String(length=200), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.Column('sent_by', sa.String(length=200), nullable=False),
        sa.Column('basis', sa.Text(), nullable=False),
        sa.Column('earlier_references', sa.Text(), nullable=False),
        sa.Column('consents', sa.Text(), nullable=False),
        sa.Column('history', sa.Text(), nullable=False),
        sa.Column('summary_pdf', sa.Text(), nullable=True),
        sa.Column('by_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('bundle_id', 'direction', name='uq_transfers_bundle'),
    )
    op.create_index('ix_transfers_case_id', 'transfers', ['case_id'])
    op.create_table(
        'transfer_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('private_key', sa.Text(), nullable=False),
        sa.Column('public_key', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('public_key'),
    )


def downgrade() -> None:
    op.drop_table('transfer_keys')
    op.drop_table('transfers')
