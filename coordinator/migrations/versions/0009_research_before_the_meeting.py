"""Before the meeting: a conference's research deadline and the circulation of its agenda; each
agency's research return per case (one per conference, case and agency); research items carry how
they are shared (now, at the meeting, or not shared with the reason); an agency sending apologies
names who takes its actions; a listed task remembers what its due date counts from.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 15:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('research_returns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_research_returns_case_id_cases')),
    sa.ForeignKeyConstraint(['conference_id'], ['conferences.id'],
                            name=op.f('fk_research_returns_conference_id_conferences')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_research_returns_created_by_id_users')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'],
                            name=op.f('fk_research_returns_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_research_returns')),
    sa.UniqueConstraint('conference_id', 'case_id', 'agency', name=op.f('uq_research_returns_conference_id'))
    )
    with op.batch_alter_table('research_returns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_research_returns_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_research_returns_conference_id'), ['conference_id'], unique=False)

    with op.batch_alter_table('conferences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('research_due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('agenda_circulated_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_rule', sa.String(length=20), nullable=True))

    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actions_person_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_participants_actions_person_id_users'), 'users',
                                    ['actions_person_id'], ['id'])

    with op.batch_alter_table('information_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('research_return_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sharing', sa.String(length=20), nullable=False, server_default='now'))
        batch_op.add_column(sa.Column('not_shared_reason', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_information_items_research_return_id'), ['research_return_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_information_items_research_return_id_research_returns'),
                                    'research_returns', ['research_return_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('information_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_information_items_research_return_id_research_returns'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_information_items_research_return_id'))
        batch_op.drop_column('not_shared_reason')
        batch_op.drop_column('sharing')
        batch_op.drop_column('research_return_id')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('due_rule')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_participants_actions_person_id_users'), type_='foreignkey')
        batch_op.drop_column('actions_person_id')
    with op.batch_alter_table('conferences', schema=None) as batch_op:
        batch_op.drop_column('agenda_circulated_at')
        batch_op.drop_column('research_due_at')
    with op.batch_alter_table('research_returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_research_returns_conference_id'))
        batch_op.drop_index(batch_op.f('ix_research_returns_case_id'))
    op.drop_table('research_returns')
