"""Notifications outside the app: the outbox, agencies' webhook endpoints, and each person's
e-mail address and choices.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 18:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch.add_column(sa.Column('notify_by_email', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('notify_by_webhook', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('notify_daily', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        'webhook_endpoints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agency', sa.String(length=64), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('secret', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('removed_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_webhook_endpoints'),
    )
    op.create_index('ix_webhook_endpoints_agency', 'webhook_endpoints', ['agency'])
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_key', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('reference', sa.String(length=40), nullable=False),
        sa.Column('link', sa.String(length=200), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('recipient', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('endpoint_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name='fk_notifications_case_id_cases'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_notifications_user_id_users'),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'],
                                name='fk_notifications_endpoint_id_webhook_endpoints'),
        sa.PrimaryKeyConstraint('id', name='pk_notifications'),
        sa.UniqueConstraint('event_key', 'channel', 'recipient', name='uq_notifications_event_key'),
    )
    op.create_index('ix_notifications_case_id', 'notifications', ['case_id'])
    op.create_index('ix_notifications_waiting', 'notifications', ['status', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_table('notifications')
    op.drop_table('webhook_endpoints')
    with op.batch_alter_table('users') as batch:
        for column in ('notify_daily', 'notify_by_webhook', 'notify_by_email', 'email'):
            batch.drop_column(column)
