"""Upgrading a database holding data from revision 0003: each case's lead agency moves into the
role map (where a conference had already named a lead, that newer word stands), and the rows of
the tables that gained columns keep their data with the new columns' defaults."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute


def test_upgrade_from_0003_moves_the_lead_agency_into_the_role_map(migrated_template, tmp_path):
    with database_at("0003", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        case = ("INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, referral_grounds, "
                "lead_agency, summary, created_by_id, created_at, version) VALUES (:id, :ref, 'domestic_abuse', "
                "'referral', 'high', 0, 'checklist', :lead, '', 1, :at, 1)")
        asyncio.run(execute(
            url,
            CHAIR_USER,
            at=at))
        for case_id, lead in ((1, "social_work"), (2, "police"), (3, None)):
            asyncio.run(execute(url, case, id=case_id, ref=f"C-2026-000{case_id}", lead=lead, at=at))
        asyncio.run(execute(
            url,
            "INSERT INTO role_assignments (case_id, responsibility, agency, status, assigned_by_id, assigned_at, version) "
            "VALUES (2, 'lead_agency', 'health', 'confirmed', 1, :at, 3)",
            at=at))
        command.upgrade(db.alembic_config(url), "head")
        leads = asyncio.run(execute(
            url, "SELECT case_id, agency, version FROM role_assignments WHERE responsibility = 'lead_agency' "
                 "AND ended_at IS NULL ORDER BY case_id"))
        concerns = asyncio.run(execute(url, "SELECT id, concern, caseworker_id FROM cases ORDER BY id"))
    assert [tuple(row) for row in leads] == [(1, "social_work", 1), (2, "health", 3)]
    assert [tuple(row) for row in concerns] == [(1, "", None), (2, "", None), (3, "", None)]
