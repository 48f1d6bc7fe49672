"""Threat-assessment teams: the team's roles per case (lead, case manager, members by agency, with their
history), a classification recorded by anyone but the lead awaiting the lead's approval, and when a
report's screening is due.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 18:30:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

PENDING = "status = 'pending'"
IN_FORCE = "ended_at IS NULL"
ONE_ROLE = {'uq_team_roles_one_lead': "role = 'lead' AND ended_at IS NULL",
            'uq_team_roles_one_case_manager': "role = 'case_manager' AND ended_at IS NULL"}


def upgrade() -> None:
    # Reports made before the team set a time for screening have no deadline.
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('screening_due_at', sa.DateTime(), nullable=True))
    # Every classification recorded before teams had a lead was the case's level: approved.
    with op.batch_alter_table('threat_screenings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=20), nullable=False, server_default='approved'))
        batch_op.add_column(sa.Column('decided_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('decision_note', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_threat_screenings_decided_by_id_users'), 'users', ['decided_by_id'], ['id'])
    op.create_index('uq_threat_screenings_one_pending', 'threat_screenings', ['case_id'], unique=True,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))
    op.create_table(
        'team_roles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('agency', sa.String(length=64), nullable=False),
        sa.Column('assigned_by_id', sa.Integer(), nullable=False),
        sa.Column('assigned_at', sa.DateTime(), nullable=False),
        sa.Column('ended_by_id', sa.Integer(), nullable=True),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['ended_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_team_roles_case_id'), 'team_roles', ['case_id'], unique=False)
    for name, where in ONE_ROLE.items():
        op.create_index(name, 'team_roles', ['case_id'], unique=True,
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))
    op.create_index('uq_team_roles_one_per_person', 'team_roles', ['case_id', 'user_id'], unique=True,
                    sqlite_where=sa.text(IN_FORCE), postgresql_where=sa.text(IN_FORCE))


def downgrade() -> None:
    op.drop_index('uq_team_roles_one_per_person', table_name='team_roles')
    for name in ONE_ROLE:
        op.drop_index(name, table_name='team_roles')
    op.drop_index(op.f('ix_team_roles_case_id'), table_name='team_roles')
    op.drop_table('team_roles')
    op.drop_index('uq_threat_screenings_one_pending', table_name='threat_screenings')
    with op.batch_alter_table('threat_screenings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_threat_screenings_decided_by_id_users'), type_='foreignkey')
        for column in ('decision_note', 'decided_at', 'decided_by_id', 'status'):
            batch_op.drop_column(column)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('screening_due_at')
