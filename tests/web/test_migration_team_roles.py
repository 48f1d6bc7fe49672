"""Upgrading a database holding a threat-assessment case screened before teams had roles: its classification
stays the case's level (approved), and the case has no team and no screening deadline until the team sets one."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute


def test_upgrade_keeps_a_classification_recorded_before_team_roles_as_the_case_level(migrated_template, tmp_path):
    with database_at("0014", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(url, CHAIR_USER, at=at))
        asyncio.run(execute(
            url,
            "INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, referral_grounds, "
            "summary, concern, created_by_id, created_at, version, reported_by, reported_at, report_place, "
            "immediate_danger) VALUES (1, 'C-2026-0001', 'threat_assessment', 'referral', 'standard', 0, 'report', "
            "'', 'a threat', 1, :at, 1, 'a classmate', :at, 'the yard', false)", at=at))
        asyncio.run(execute(
            url, "INSERT INTO threat_screenings (id, case_id, version, level, reasons, participants, by_id, at) "
                 "VALUES (1, 1, 1, 'transient', 'said in anger', '[]', 1, :at)", at=at))
        command.upgrade(db.alembic_config(url), "head")
        screenings = asyncio.run(execute(url, "SELECT version, level, status, decided_by_id FROM threat_screenings"))
        due = asyncio.run(execute(url, "SELECT screening_due_at FROM cases"))
        roles = asyncio.run(execute(url, "SELECT count(*) FROM team_roles"))
    assert [tuple(row) for row in screenings] == [(1, "transient", "approved", None)]
    assert [tuple(row) for row in due] == [(None,)] and [tuple(row) for row in roles] == [(0,)]
