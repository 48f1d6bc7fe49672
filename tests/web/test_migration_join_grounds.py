"""Upgrading a database holding a case with its agencies from revision 0014: the agencies stay on
the case, with no ground recorded (they joined before grounds were), and the page says so; tasks
gain what they need and what fulfilled it."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import db
from coordinator.cases import ground_label
from tests.databases import CHAIR_USER, database_at, execute


def test_upgrade_from_0014_keeps_the_agencies_on_their_cases_without_a_ground(migrated_template, tmp_path):
    with database_at("0014", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(url, CHAIR_USER, at=at))
        asyncio.run(execute(
            url,
            "INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, referral_grounds, "
            "summary, concern, created_by_id, created_at, version) VALUES (1, 'C-2026-0001', 'domestic_abuse', "
            "'referral', 'high', 0, 'checklist', '', '', 1, :at, 1)", at=at))
        asyncio.run(execute(url, "INSERT INTO case_agencies (id, case_id, agency, added_by_id, added_at) "
                                 "VALUES (1, 1, 'police', 1, :at)", at=at))
        command.upgrade(db.alembic_config(url), "head")
        rows = asyncio.run(execute(url, "SELECT case_id, agency, ground FROM case_agencies"))
        needing = asyncio.run(execute(url, "SELECT needs, fulfilled_by FROM tasks"))
    assert [tuple(row) for row in rows] == [(1, "police", None)]
    assert needing == []  # the columns are there: a task listed from now on records what it needs
    assert ground_label(None) == "joined before grounds were recorded"
