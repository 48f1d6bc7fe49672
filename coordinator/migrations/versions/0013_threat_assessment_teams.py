"""Threat-assessment teams: a case opened from a report (who reported, when, where, immediate danger),
its screenings (each classification a version), and the team's recorded basis for sharing within it.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 15:45:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None

IN_FORCE = "removed_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reported_by', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('reported_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('report_place', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('immediate_danger', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        'threat_screenings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('level', sa.String(length=60), nullable=False),
        sa.Column('reasons', sa.Text(), nullable=False),
        sa.Column('participants', sa.Text(), nullable=False),
        sa.Column('by_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id', 'version'),
    )
    op.create_index(op.f('ix_threat_screenings_case_id'), 'threat_screenings', ['case_id'], unique=False)
    op.create_table(
        'team_bases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('legal_basis', sa.String(length=60), nullable=False),
        sa.Column('approved_by_id', sa.Integer(), nullable=False),
        sa.Column('approved_at', sa.DateTime(), nullable=False),
        sa.Column('removed_by_id', sa.Integer(), nullable=True),
        sa.Column('removed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['approved_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['removed_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_team_bases_case_id'), 'team_bases', ['case_id'], unique=False)
    op.create_index('uq_team_bases_in_force', 'team_bases', ['case_id'], unique=True,
                    sqlite_where=sa.text(IN_FORCE), postgresql_where=sa.text(IN_FORCE))


def downgrade() -> None:
    op.drop_index('uq_team_bases_in_force', table_name='team_bases')
    op.drop_index(op.f('ix_team_bases_case_id'), table_name='team_bases')
    op.drop_table('team_bases')
    op.drop_index(op.f('ix_threat_screenings_case_id'), table_name='threat_screenings')
    op.drop_table('threat_screenings')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        for column in ('immediate_danger', 'report_place', 'reported_at', 'reported_by'):
            batch_op.drop_column(column)
