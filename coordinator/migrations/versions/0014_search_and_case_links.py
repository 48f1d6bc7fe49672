"""Finding earlier cases: the sound of each name part (indexed), dates of birth indexed, the
coordinators' same/not-same decisions between cases, and the search log's queries.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:50:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'person_name_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['person_id'], ['case_people.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    for column in ('person_id', 'case_id', 'key'):
        op.create_index(f'ix_person_name_keys_{column}', 'person_name_keys', [column])
    op.create_index('ix_case_people_born_on', 'case_people', ['born_on'])
    op.create_table(
        'case_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('earlier_case_id', sa.Integer(), nullable=False),
        sa.Column('later_case_id', sa.Integer(), nullable=False),
        sa.Column('same', sa.Boolean(), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['earlier_case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['later_case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('earlier_case_id', 'later_case_id', name='uq_case_links_pair'),
    )
    op.create_index('ix_case_links_earlier_case_id', 'case_links', ['earlier_case_id'])
    op.create_index('ix_case_links_later_case_id', 'case_links', ['later_case_id'])
    op.create_table(
        'search_queries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.String(length=200), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_search_queries_at', 'search_queries', ['at'])
    # Names already held get their sound keys, as new ones do when written.
    from coordinator.names import sound_keys
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, case_id, name FROM case_people")).all()
    keys = [{"person_id": row.id, "case_id": row.case_id, "key": key} for row in rows for key in sound_keys(row.name)]
    if keys:
        bind.execute(sa.text("INSERT INTO person_name_keys (person_id, case_id, key) VALUES (:person_id, :case_id, :key)"),
                     keys)


def downgrade() -> None:
    op.drop_table('search_queries')
    op.drop_table('case_links')
    op.drop_index('ix_case_people_born_on', 'case_people')
    op.drop_table('person_name_keys')
