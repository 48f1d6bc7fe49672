"""The case between meetings: its history, raised events and the "to be heard" queue, follow-ups,
a safety plan's review date, shared duties, corrected conference notes; and the lead agency kept
once, in the role map (each case's lead_agency becomes a current "lead_agency" role, unless the role
map already names one, which is then the newer word).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 07:56:19.793597
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitor_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ran_on', sa.Date(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitor_runs'))
    )
    with op.batch_alter_table('monitor_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitor_runs_ran_on'), ['ran_on'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=80), nullable=False),
    sa.Column('occurs_on', sa.Date(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('raised_at', sa.DateTime(), nullable=False),
    sa.Column('tasks_added', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_case_events_by_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events')),
    sa.UniqueConstraint('case_id', 'event', 'subject', 'occurs_on', name=op.f('uq_case_events_case_id'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_case_revisions_by_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_revisions_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_revisions')),
    sa.UniqueConstraint('case_id', 'version', name=op.f('uq_case_revisions_case_id'))
    )
    with op.batch_alter_table('case_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_revisions_case_id'), ['case_id'], unique=False)

    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('safe_to_call', sa.Boolean(), nullable=False),
    sa.Column('plan_item_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('attempted_on', sa.Date(), nullable=True),
    sa.Column('updated_risk', sa.String(length=20), nullable=True),
    sa.Column('outcome_item_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_follow_ups_case_id_cases')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_follow_ups_created_by_id_users')),
    sa.ForeignKeyConstraint(['outcome_item_id'], ['information_items.id'], name=op.f('fk_follow_ups_outcome_item_id_information_items')),
    sa.ForeignKeyConstraint(['person_id'], ['users.id'], name=op.f('fk_follow_ups_person_id_users')),
    sa.ForeignKeyConstraint(['plan_item_id'], ['information_items.id'], name=op.f('fk_follow_ups_plan_item_id_information_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_ups'))
    )
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follow_ups_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follow_ups_planned_on'), ['planned_on'], unique=False)

    op.create_table('hearing_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_hearing_requests_case_id_cases')),
    sa.ForeignKeyConstraint(['conference_id'], ['conferences.id'], name=op.f('fk_hearing_requests_conference_id_conferences')),
    sa.ForeignKeyConstraint(['event_id'], ['case_events.id'], name=op.f('fk_hearing_requests_event_id_case_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hearing_requests'))
    )
    with op.batch_alter_table('hearing_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hearing_requests_case_id'), ['case_id'], unique=False)

    op.execute(
        "INSERT INTO role_assignments (case_id, responsibility, agency, status, assigned_by_id, assigned_at, version) "
        "SELECT c.id, 'lead_agency', c.lead_agency, 'confirmed', c.created_by_id, c.created_at, 1 FROM cases c "
        "WHERE c.lead_agency IS NOT NULL AND NOT EXISTS (SELECT 1 FROM role_assignments r WHERE r.case_id = c.id "
        "AND r.responsibility = 'lead_agency' AND r.ended_at IS NULL)"
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referring_agency', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('caseworker_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_cases_caseworker_id_users'), 'users', ['caseworker_id'], ['id'])
        batch_op.drop_column('lead_agency')

    with op.batch_alter_table('conference_notes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supersedes_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('superseded', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_foreign_key(batch_op.f('fk_conference_notes_supersedes_id_conference_notes'), 'conference_notes', ['supersedes_id'], ['id'])

    with op.batch_alter_table('information_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_on', sa.Date(), nullable=True))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duty', sa.String(length=60), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('duty')

    with op.batch_alter_table('information_items', schema=None) as batch_op:
        batch_op.drop_column('review_on')

    with op.batch_alter_table('conference_notes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_conference_notes_supersedes_id_conference_notes'), type_='foreignkey')
        batch_op.drop_column('superseded')
        batch_op.drop_column('supersedes_id')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_agency', sa.VARCHAR(length=64), nullable=True))
        batch_op.drop_constraint(batch_op.f('fk_cases_caseworker_id_users'), type_='foreignkey')
        batch_op.drop_column('caseworker_id')
        batch_op.drop_column('referring_agency')
    op.execute(
        "UPDATE cases SET lead_agency = (SELECT r.agency FROM role_assignments r WHERE r.case_id = cases.id "
        "AND r.responsibility = 'lead_agency' AND r.ended_at IS NULL)"
    )

    with op.batch_alter_table('hearing_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hearing_requests_case_id'))

    op.drop_table('hearing_requests')
    with op.batch_alter_table('follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follow_ups_planned_on'))
        batch_op.drop_index(batch_op.f('ix_follow_ups_case_id'))

    op.drop_table('follow_ups')
    with op.batch_alter_table('case_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_revisions_case_id'))

    op.drop_table('case_revisions')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('monitor_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitor_runs_ran_on'))

    op.drop_table('monitor_runs')
