"""Closing as a team: each agency's sign-off of its own tasks (who, when, what). The lifecycle's
invariants in the database: at most one closure request per case awaits its
decision, at most one open referral per case and receiving agency or service (partial unique
indexes); and a closure keeps the role map as it stood when it closed the case, for reopening.

Rows the old SELECT-then-INSERT let through are settled first, oldest kept: a second pending
closure request is refused, a second open referral declined, each with a note saying why. An
approved closure's role map is rebuilt from the assignments its approval ended (same instant).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 11:40:00
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OPEN_REFERRAL = "status IN ('draft', 'sent', 'accepted')"
PENDING_CLOSURE = "status = 'requested'"
ROLE_FIELDS = ("responsibility", "agency", "person_id", "status", "conference_id")


def _settle_duplicates(bind) -> None:
    closures = bind.execute(sa.text(
        f"SELECT id, case_id FROM closures WHERE {PENDING_CLOSURE} ORDER BY case_id, requested_at, id")).all()
    seen: set = set()
    for closure_id, case_id in closures:
        if case_id in seen:
            bind.execute(sa.text(
                "UPDATE closures SET status = 'refused', decision_note = :note WHERE id = :id"),
                {"id": closure_id, "note": "another closure request of this case was already awaiting a decision"})
        seen.add(case_id)
    for column in ("to_agency", "service_id"):
        referrals = bind.execute(sa.text(
            f"SELECT id, case_id, {column} FROM referrals WHERE {OPEN_REFERRAL} AND {column} IS NOT NULL "
            "ORDER BY case_id, id")).all()
        kept: set = set()
        for referral_id, case_id, target in referrals:
            if (case_id, target) in kept:
                bind.execute(sa.text(
                    "UPDATE referrals SET status = 'declined', decline_reason = :note WHERE id = :id"),
                    {"id": referral_id, "note": "an earlier referral to the same recipient was still open"})
            kept.add((case_id, target))


def _role_maps(bind) -> None:
    approved = bind.execute(sa.text(
        "SELECT id, case_id, decided_at FROM closures WHERE status = 'approved' AND decided_at IS NOT NULL")).all()
    for closure_id, case_id, decided_at in approved:
        roles = bind.execute(sa.text(
            f"SELECT {', '.join(ROLE_FIELDS)} FROM role_assignments WHERE case_id = :case AND ended_at = :at "
            "ORDER BY id"), {"case": case_id, "at": decided_at}).all()
        bind.execute(sa.text("UPDATE closures SET role_map = :map WHERE id = :id"),
                     {"id": closure_id, "map": json.dumps([dict(zip(ROLE_FIELDS, row)) for row in roles])})


def upgrade() -> None:
    op.create_table('task_sign_offs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('agency', sa.String(length=64), nullable=False),
    sa.Column('decision', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('tasks', sa.Text(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_task_sign_offs_by_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_task_sign_offs_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_sign_offs'))
    )
    with op.batch_alter_table('task_sign_offs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_sign_offs_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role_map', sa.Text(), nullable=False, server_default='[]'))
    bind = op.get_bind()
    _settle_duplicates(bind)
    _role_maps(bind)
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.create_index('uq_closures_one_pending', ['case_id'], unique=True,
                              sqlite_where=sa.text(PENDING_CLOSURE), postgresql_where=sa.text(PENDING_CLOSURE))
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.create_index('uq_referrals_open_to_agency', ['case_id', 'to_agency'], unique=True,
                              sqlite_where=sa.text(OPEN_REFERRAL), postgresql_where=sa.text(OPEN_REFERRAL))
        batch_op.create_index('uq_referrals_open_to_service', ['case_id', 'service_id'], unique=True,
                              sqlite_where=sa.text(OPEN_REFERRAL), postgresql_where=sa.text(OPEN_REFERRAL))


def downgrade() -> None:
    with op.batch_alter_table('referrals', schema=None) as batch_op:
        batch_op.drop_index('uq_referrals_open_to_service')
        batch_op.drop_index('uq_referrals_open_to_agency')
    with op.batch_alter_table('closures', schema=None) as batch_op:
        batch_op.drop_index('uq_closures_one_pending')
        batch_op.drop_column('role_map')
    with op.batch_alter_table('task_sign_offs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_sign_offs_case_id'))
    op.drop_table('task_sign_offs')
