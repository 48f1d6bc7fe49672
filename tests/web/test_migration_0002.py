"""Upgrading a database holding data from revision 0001: users and tokens stay (tokens get an
expiry), old sessions and login failures go (they name no user, no address)."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import db
from tests.databases import database_at, execute


def test_upgrade_from_0001_keeps_users_and_tokens_and_drops_sessions(migrated_template, tmp_path):
    # On PostgreSQL the shared test database is rebuilt here and left at the newest revision.
    with database_at("0001", tmp_path) as url:
        created = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(
            url,
            "INSERT INTO users (id, username, display_name, agency, role, password_hash, active, created_at) "
            "VALUES (1, 'ana', 'Ana', 'police', 'member', 'x', true, :at)",
            "INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES (1, 1, 'digest', :at)",
            "INSERT INTO web_sessions (key, data, expires_at) VALUES ('chosen-by-anyone', '', :at)",
            "INSERT INTO login_failures (username, at) VALUES ('ana', :at)",
            at=created,
        ))
        command.upgrade(db.alembic_config(url), "head")
        users, tokens, sessions, failures = (asyncio.run(execute(url, sql)) for sql in (
            "SELECT username FROM users", "SELECT expires_at, revoked_at FROM api_tokens",
            "SELECT key FROM web_sessions", "SELECT username FROM login_failures"))
    assert [tuple(row) for row in users] == [("ana",)]
    [(expires_at, revoked_at)] = tokens
    if isinstance(expires_at, str):  # SQLite hands back text
        expires_at = dt.datetime.fromisoformat(expires_at)
    assert revoked_at is None and expires_at - dt.datetime.now(dt.UTC).replace(tzinfo=None) > dt.timedelta(days=89)
    assert sessions == [] and failures == []
