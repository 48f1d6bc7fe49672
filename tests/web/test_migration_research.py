"""Upgrading a database holding data from revision 0008: items recorded before research existed are
shared now (as they were), conferences have no deadline and no circulation yet, and the database
then holds one research return per conference, case and agency."""

import asyncio
import datetime as dt

import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute

RETURN = ("INSERT INTO research_returns (conference_id, case_id, agency, outcome, late, created_by_id, created_at) "
          "VALUES (1, 1, 'police', 'nothing_held', false, 1, :at)")


def test_upgrade_from_0008_keeps_items_shared_and_one_return_per_agency(migrated_template, tmp_path):
    at = dt.datetime(2026, 1, 2, 3, 4, 5)
    with database_at("0008", tmp_path) as url:
        for statement in (
            CHAIR_USER,
            "INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, referral_grounds, "
            "summary, concern, created_by_id, created_at, version) VALUES (1, 'C-2026-0001', 'domestic_abuse', "
            "'referral', 'high', 0, 'checklist', '', '', 1, :at, 1)",
            "INSERT INTO information_items (id, case_id, lineage_id, superseded, agency, category, nature, sensitivity, "
            "text, recorded_by_id, recorded_at) VALUES (1, 1, 1, false, 'police', 'police.call_outs', 'fact', "
            "'normal', 'Three call-outs', 1, :at)",
            "INSERT INTO conferences (id, title, scheduled_at, chair_id, status, created_by_id, version) "
            "VALUES (1, 'MARAC', :at, 1, 'scheduled', 1, 1)",
        ):
            asyncio.run(execute(url, statement, at=at))
        command.upgrade(db.alembic_config(url), "head")
        items = asyncio.run(execute(url, "SELECT sharing, research_return_id, not_shared_reason FROM information_items"))
        conferences = asyncio.run(execute(url, "SELECT research_due_at, agenda_circulated_at FROM conferences"))
        asyncio.run(execute(url, RETURN, at=at))
        with pytest.raises(IntegrityError):
            asyncio.run(execute(url, RETURN, at=at))
    assert [tuple(row) for row in items] == [("now", None, None)]
    assert [tuple(row) for row in conferences] == [(None, None)]
