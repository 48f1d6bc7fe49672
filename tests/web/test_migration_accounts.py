"""Upgrading a database holding data from revision 0008: people keep their accounts (no second
factor yet) and their open sessions, shown with an unknown device and address."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import accounts, db
from tests.conftest import PG_URL
from tests.databases import empty_schema
from tests.web.test_migration_0002 import _execute


def test_upgrade_from_0008_keeps_accounts_and_sessions(migrated_template, tmp_path):
    url = PG_URL or f"sqlite+aiosqlite:///{tmp_path / 'upgrade.db'}"
    if PG_URL:
        asyncio.run(empty_schema(url))
    try:
        command.upgrade(db.alembic_config(url), "0008")
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(_execute(
            url,
            "INSERT INTO users (id, username, display_name, agency, role, password_hash, active, created_at) "
            "VALUES (1, 'boss', 'Boss', 'social_work', 'supervisor', 'x', true, :at)",
            "INSERT INTO web_sessions (key, user_id, data, expires_at) VALUES ('k', 1, :data, :later)",
            at=at, data=b"{}", later=at + dt.timedelta(minutes=30)))
        command.upgrade(db.alembic_config(url), "head")
        users = asyncio.run(_execute(url, "SELECT username, totp_secret, totp_last_step FROM users"))
        sessions = asyncio.run(_execute(url, "SELECT key, user_agent, address, created_at FROM web_sessions"))
    finally:
        db.migrate(url)
    assert [tuple(row) for row in users] == [("boss", None, None)]
    assert [tuple(row) for row in sessions] == [("k", None, None, None)]
    assert accounts.device_of(None) == "Unknown device"
