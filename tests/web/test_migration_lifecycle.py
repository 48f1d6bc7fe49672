"""Upgrading a database from revision 0005, where the old check-then-insert had let twins in: the
oldest pending closure and the oldest open referral stay, each twin is settled with a note, and an
approved closure keeps the role map its approval ended, so a reopening can restore it."""

import asyncio
import datetime as dt
import json

from alembic import command

from coordinator import db
from tests.databases import database_at, execute


def test_upgrade_from_0005_settles_twins_and_keeps_the_role_map_at_closure(migrated_template, tmp_path):
    at = dt.datetime(2026, 1, 2, 3, 4, 5)
    closed = dt.datetime(2026, 2, 1, 9, 0, 0)
    with database_at("0005", tmp_path) as url:
        asyncio.run(execute(
            url, "INSERT INTO users (id, username, display_name, agency, role, password_hash, active, created_at) "
                 "VALUES (1, 'chair', 'Chair', 'social_work', 'coordinator', 'x', true, :at)", at=at))
        for case_id in (1, 2):
            asyncio.run(execute(
                url, "INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, "
                     "referral_grounds, summary, concern, created_by_id, created_at, version) VALUES (:id, :ref, "
                     "'domestic_abuse', 'follow_up', 'high', 0, 'checklist', '', '', 1, :at, 1)",
                id=case_id, ref=f"C-2026-000{case_id}", at=at))
        closure = ("INSERT INTO closures (id, case_id, criterion, closing_on, reasons, missing_items, status, "
                   "requested_by_id, requested_at, decided_at) VALUES (:id, :case, 'needs_met', :on, 'safe', '[]', "
                   ":status, 1, :at, :decided)")
        for closure_id, case_id, status, decided in ((1, 1, "requested", None), (2, 1, "requested", None),
                                                     (3, 2, "approved", closed)):
            asyncio.run(execute(url, closure, id=closure_id, case=case_id, on=at.date(), status=status,
                                 at=at + dt.timedelta(minutes=closure_id), decided=decided))
        for referral_id in (1, 2):
            asyncio.run(execute(
                url, "INSERT INTO referrals (id, case_id, to_agency, purpose, status, notes, created_by_id, "
                     "created_at, version) VALUES (:id, 1, 'health', 'a check', 'sent', '', 1, :at, 1)",
                id=referral_id, at=at))
        asyncio.run(execute(
            url, "INSERT INTO role_assignments (case_id, responsibility, agency, status, assigned_by_id, assigned_at, "
                 "ended_at, version) VALUES (2, 'lead_agency', 'police', 'confirmed', 1, :at, :ended, 1)",
            at=at, ended=closed))
        command.upgrade(db.alembic_config(url), "head")
        closures = asyncio.run(execute(url, "SELECT id, status, role_map FROM closures ORDER BY id"))
        referrals = asyncio.run(execute(url, "SELECT id, status FROM referrals ORDER BY id"))
    assert [(row[0], row[1]) for row in closures] == [(1, "requested"), (2, "refused"), (3, "approved")]
    assert [(r["responsibility"], r["agency"]) for r in json.loads(closures[2][2])] == [("lead_agency", "police")]
    assert [tuple(row) for row in referrals] == [(1, "sent"), (2, "declined")]
