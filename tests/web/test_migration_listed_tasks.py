"""Upgrading a database holding data from revision 0005: listed tasks that an earlier race created
twice are kept (never deleted) but the later copies leave the agencies' lists, so the partial
unique indexes can hold; every other task is untouched."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute

TASK = ("INSERT INTO tasks (id, case_id, agency, title, domain, status, source, duty, created_at, updated_at, version) "
        "VALUES (:id, 1, :agency, :title, 'victim', 'open', :source, :duty, :at, :at, 1)")


def test_upgrade_from_0005_keeps_duplicated_listed_tasks_outside_the_lists(migrated_template, tmp_path):
    with database_at("0005", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(
            url,
            CHAIR_USER,
            at=at))
        asyncio.run(execute(
            url,
            "INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, referral_grounds, "
            "summary, concern, created_by_id, created_at, version) VALUES (1, 'C-2026-0001', 'domestic_abuse', "
            "'referral', 'high', 0, 'checklist', '', '', 1, :at, 1)",
            at=at))
        for task_id, agency, title, source, duty in (
                (1, "social_work", "Child protection", "agency_list", "child_protection_procedures"),
                (2, "police", "Child protection", "agency_list", "child_protection_procedures"),
                (3, "police", "Flag the address", "agency_list", None),
                (4, "police", "Flag the address", "agency_list", None),
                (5, "police", "Flag the address", "coordinator", None)):
            asyncio.run(execute(url, TASK, id=task_id, agency=agency, title=title, source=source, duty=duty, at=at))
        command.upgrade(db.alembic_config(url), "head")
        sources = asyncio.run(execute(url, "SELECT id, source FROM tasks ORDER BY id"))
    assert [tuple(row) for row in sources] == [(1, "agency_list"), (2, "duplicate"), (3, "agency_list"),
                                               (4, "duplicate"), (5, "coordinator")]
