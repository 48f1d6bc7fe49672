"""Task lists follow the case: a listed duty once per case, any other listed task once per case and
agency (partial unique indexes; earlier duplicates are kept, relabelled as such).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 12:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

LISTED_DUTY = "duty IS NOT NULL AND source IN ('agency_list', 'standing')"
LISTED_TITLE = "duty IS NULL AND source IN ('agency_list', 'standing')"


def upgrade() -> None:
    # Two agencies joining at once could each create a shared duty: the later copies stay (a task is
    # never deleted) but leave the listed tasks, so the indexes can hold.
    for where, columns in ((LISTED_DUTY, "case_id, duty"), (LISTED_TITLE, "case_id, agency, title")):
        op.execute(sa.text(
            f"UPDATE tasks SET source = 'duplicate' WHERE {where} AND id NOT IN "
            f"(SELECT MIN(id) FROM tasks WHERE {where} GROUP BY {columns})"))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('uq_tasks_listed_duty', ['case_id', 'duty'], unique=True,
                              sqlite_where=sa.text(LISTED_DUTY), postgresql_where=sa.text(LISTED_DUTY))
        batch_op.create_index('uq_tasks_listed_title', ['case_id', 'agency', 'title'], unique=True,
                              sqlite_where=sa.text(LISTED_TITLE), postgresql_where=sa.text(LISTED_TITLE))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('uq_tasks_listed_title')
        batch_op.drop_index('uq_tasks_listed_duty')
