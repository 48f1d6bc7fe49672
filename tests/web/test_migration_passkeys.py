"""Upgrading a database holding accounts from revision 0008: the people are kept, none has a
passkey, a passkey is stored once (the same credential twice is refused by the database), and
someone waiting for an account waits once per agency."""

import asyncio
import datetime as dt

import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute

PASSKEY = ("INSERT INTO passkeys (user_id, credential_id, public_key, sign_count, name, created_at) "
           "VALUES (1, 'AAEC', :key, 0, 'Laptop', :at)")
WAITING = ("INSERT INTO sign_in_requests (agency, username, display_name, created_at) "
           "VALUES ('police', 'new@example.org', 'New', :at)")


def test_upgrade_from_0008_keeps_the_accounts_and_stores_each_passkey_and_request_once(migrated_template, tmp_path):
    with database_at("0008", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(url, CHAIR_USER, at=at))
        command.upgrade(db.alembic_config(url), "head")
        assert [tuple(r) for r in asyncio.run(execute(url, "SELECT id FROM users"))] == [(1,)]
        assert list(asyncio.run(execute(url, "SELECT id FROM passkeys"))) == []
        asyncio.run(execute(url, PASSKEY, key=b"\x01\x02", at=at))
        with pytest.raises(IntegrityError):
            asyncio.run(execute(url, PASSKEY, key=b"\x03", at=at))
        asyncio.run(execute(url, WAITING, at=at))
        with pytest.raises(IntegrityError):
            asyncio.run(execute(url, WAITING, at=at))
