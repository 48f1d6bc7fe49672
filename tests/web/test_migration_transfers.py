"""Upgrading a database holding cases from revision 0014: the cases stay, and the transfers table
takes each bundle once per direction (the index the import relies on to make one case per bundle)."""

import asyncio
import datetime as dt

import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute

TRANSFER = ("INSERT INTO transfers (bundle_id, direction, case_id, deployment, sent_at, sent_by, basis, "
            "earlier_references, consents, history, by_id, at) VALUES ('b1', :direction, 1, 'Leeds MARAC', :at, "
            "'Chair', 'consent:1', '[]', '[]', '[]', 1, :at)")


def test_upgrade_from_0014_keeps_cases_and_takes_a_bundle_once_each_way(migrated_template, tmp_path):
    at = dt.datetime(2026, 1, 2, 3, 4, 5)
    with database_at("0014", tmp_path) as url:
        asyncio.run(execute(url, CHAIR_USER, at=at))
        asyncio.run(execute(
            url,
            "INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, referral_grounds, "
            "summary, concern, created_by_id, created_at, version) VALUES (1, 'C-2026-0001', 'domestic_abuse', "
            "'referral', 'high', 0, 'checklist', '', '', 1, :at, 1)", at=at))
        command.upgrade(db.alembic_config(url), "head")
        asyncio.run(execute(url, TRANSFER, TRANSFER.replace(":direction", "'out'"), direction="in", at=at))
        with pytest.raises(IntegrityError):
            asyncio.run(execute(url, TRANSFER, direction="in", at=at))
        rows = asyncio.run(execute(url, "SELECT reference FROM cases UNION ALL SELECT direction FROM transfers"))
    assert sorted(row[0] for row in rows) == ["C-2026-0001", "in", "out"]
