"""sessions belong to a user, tokens expire and can be revoked, login failures name an address

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 03:48:20.003907
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Tokens issued before expiry existed get the default lifetime from the upgrade on, rather than
# expiring at once (which would break every script) or never.
EXISTING_TOKEN_DAYS = 90


def upgrade() -> None:
    # Sessions from before the upgrade hold no user id (and include anonymous ones): everyone
    # logs in again once. Failures from before carry no address: throttling starts afresh.
    op.execute(sa.text("DELETE FROM web_sessions"))
    op.execute(sa.text("DELETE FROM login_failures"))

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(), nullable=True))
    expires_at = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=EXISTING_TOKEN_DAYS)
    op.execute(sa.table('api_tokens', sa.column('expires_at', sa.DateTime())).update().values(expires_at=expires_at))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(), nullable=False)

    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=64), nullable=False))

    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=False))
        batch_op.create_index(batch_op.f('ix_web_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_web_sessions_user_id_users'), 'users', ['user_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_web_sessions_user_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_web_sessions_expires_at'))
        batch_op.drop_column('user_id')

    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_column('address')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('expires_at')
