"""Upgrading a database holding cases from revision 0008: every case keeps its data and gets an empty
report (not in immediate danger), with no screening and no team basis."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute


def test_upgrade_from_0008_gives_existing_cases_an_empty_report(migrated_template, tmp_path):
    with database_at("0008", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(
            url,
            CHAIR_USER,
            at=at))
        asyncio.run(execute(
            url,
            "INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, referral_grounds, "
            "summary, concern, created_by_id, created_at, version) VALUES (1, 'C-2026-0001', 'threat_assessment', "
            "'referral', 'high', 0, 'professional_judgement', '', 'a threat', 1, :at, 1)",
            at=at))
        command.upgrade(db.alembic_config(url), "head")
        cases = asyncio.run(execute(url, "SELECT reference, concern, reported_by, reported_at, report_place, "
                                          "immediate_danger FROM cases"))
        screened = asyncio.run(execute(url, "SELECT count(*) FROM threat_screenings"))
    assert [tuple(row) for row in cases] == [("C-2026-0001", "a threat", "", None, "", False)]
    assert [tuple(row) for row in screened] == [(0,)]
