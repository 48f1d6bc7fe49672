"""Upgrading a database holding data from revision 0005: a stored first answer to an
Idempotency-Key keeps its answer (kept, with no fingerprint: it was stored before fingerprints
were), and a retry of its request after the upgrade still gets it back."""

import asyncio
import datetime as dt

from alembic import command

from coordinator import accounts, db
from coordinator.app import create_app
from coordinator.settings import Settings
from tests.conftest import PASSWORD, REFERRAL, Client
from tests.databases import database_at, execute

FIRST = b'{"id": 41, "reference": "C-2026-0041"}'


async def _retried(url: str, registry) -> tuple[int, bytes]:
    app = create_app(Settings(database_url=url, secret_key="test-secret-key-0123456789"), registry)
    try:
        async with Client(app) as chair:
            assert (await chair.login("chair")).status_code == 200
            again = await chair.post("/api/cases", json=REFERRAL, headers={"Idempotency-Key": "before-0006"})
            return again.status_code, again.content
    finally:
        await app.state.engine.dispose()


def test_upgrade_from_0005_keeps_stored_answers_and_replays_them(migrated_template, tmp_path, registry):
    with database_at("0005", tmp_path) as url:
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=5)
        asyncio.run(execute(
            url,
            "INSERT INTO users (id, username, display_name, agency, role, password_hash, active, created_at) "
            "VALUES (1, 'chair', 'Chair', 'social_work', 'coordinator', :hash, true, :at)",
            "INSERT INTO idempotency_keys (user_id, key, request, status_code, media_type, body, created_at) "
            "VALUES (1, 'before-0006', 'POST /api/cases', 201, 'application/json', :body, :at)",
            hash=accounts._hasher.hash(PASSWORD), body=FIRST, at=at))
        command.upgrade(db.alembic_config(url), "head")
        [kept] = asyncio.run(execute(url, "SELECT fingerprint, released, status_code FROM idempotency_keys"))
        retried = asyncio.run(_retried(url, registry))
        cases = asyncio.run(execute(url, "SELECT count(*) FROM cases"))
    assert tuple(kept) == (None, False, 201)
    assert retried == (201, FIRST)
    assert [tuple(row) for row in cases] == [(0,)]  # the retry wrote nothing
