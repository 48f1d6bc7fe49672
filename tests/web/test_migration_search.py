"""Upgrading a database holding people from revision 0008: the names already held get their sound
keys, so search and the intake check find the people recorded before the upgrade too."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute


def test_upgrade_from_0008_indexes_the_sound_of_names_already_held(migrated_template, tmp_path):
    with database_at("0008", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(
            url,
            CHAIR_USER, at=at))
        asyncio.run(execute(
            url,
            "INSERT INTO cases (id, reference, kind, stage, risk_level, incidents_last_12_months, referral_grounds, "
            "summary, concern, created_by_id, created_at, version) VALUES (1, 'C-2026-0001', 'domestic_abuse', "
            "'referral', 'high', 0, 'checklist', '', '', 1, :at, 1)", at=at))
        asyncio.run(execute(url, "INSERT INTO case_people (id, case_id, role, name) VALUES (1, 1, 'survivor', "
                                  "'Norah Smith')"))
        command.upgrade(db.alembic_config(url), "head")
        keys = asyncio.run(execute(url, "SELECT person_id, case_id, key FROM person_name_keys ORDER BY key"))
    assert [tuple(row) for row in keys] == [(1, 1, "NR"), (1, 1, "SM0")]
