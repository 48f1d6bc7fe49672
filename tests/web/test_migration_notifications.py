"""Upgrading a database with accounts from revision 0008: every existing person is offered
notifications by e-mail and through her agency's system, at once, with no address yet; the outbox
refuses a second message for the same event and recipient."""

import asyncio
import datetime as dt

import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError

from coordinator import db
from tests.databases import CHAIR_USER, database_at, execute

OUTBOX_ROW = ("INSERT INTO notifications (event_key, kind, reference, link, channel, recipient, user_id, status, "
              "attempts, next_attempt_at, created_at) VALUES ('referral:case:1:police', 'referral', 'C-2026-0001', "
              "'/cases/1', 'email', 'user:1', 1, 'waiting', 0, :at, :at)")


def test_upgrade_from_0008_gives_existing_people_notification_choices(migrated_template, tmp_path):
    with database_at("0008", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(url, CHAIR_USER, at=at))
        command.upgrade(db.alembic_config(url), "head")
        people = asyncio.run(execute(url, "SELECT email, notify_by_email, notify_by_webhook, notify_daily FROM users"))
        assert [tuple(row) for row in people] == [(None, True, True, False)]
        asyncio.run(execute(url, OUTBOX_ROW, at=at))
        with pytest.raises(IntegrityError):
            asyncio.run(execute(url, OUTBOX_ROW, at=at))
