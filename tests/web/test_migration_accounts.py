"""Upgrading a database holding data from revision 0008: people keep their accounts (no second
factor yet) and their open sessions, shown with an unknown device and address."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import accounts, db
from tests.databases import database_at, execute


def test_upgrade_from_0008_keeps_accounts_and_sessions(migrated_template, tmp_path):
    with database_at("0008", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(
            url,
            "INSERT INTO users (id, username, display_name, agency, role, password_hash, active, created_at) "
            "VALUES (1, 'boss', 'Boss', 'social_work', 'supervisor', 'x', true, :at)",
            "INSERT INTO web_sessions (key, user_id, data, expires_at) VALUES ('k', 1, :data, :later)",
            at=at, data=b"{}", later=at + dt.timedelta(minutes=30)))
        command.upgrade(db.alembic_config(url), "head")
        users = asyncio.run(execute(url, "SELECT username, totp_secret, totp_last_step FROM users"))
        sessions = asyncio.run(execute(url, "SELECT key, user_agent, address, created_at FROM web_sessions"))
    assert [tuple(row) for row in users] == [("boss", None, None)]
    assert [tuple(row) for row in sessions] == [("k", None, None, None)]
    assert accounts.device_of(None) == "Unknown device"
