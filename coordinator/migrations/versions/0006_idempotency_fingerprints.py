"""Idempotency keys claimed before their request runs (no answer yet while it is in flight), bound
to a fingerprint of the request's body, and a refusal's answer released after its twins got it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 11:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fingerprint', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('released', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column('status_code', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('media_type', existing_type=sa.String(length=100), nullable=True)
        batch_op.alter_column('body', existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE status_code IS NULL")  # claims in flight have no answer
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.alter_column('body', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column('media_type', existing_type=sa.String(length=100), nullable=False)
        batch_op.alter_column('status_code', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('released')
        batch_op.drop_column('fingerprint')
