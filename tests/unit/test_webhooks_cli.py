"""`coordinator webhooks add|list|test|remove`: an agency's endpoint with its secret shown once, a
signed test message its receiver verifies, bad input refused with a message, and removal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from coordinator import cli as command_line
from coordinator.models import AuditEntry
from tests.notification_receivers import WebhookReceiver


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(database_url, monkeypatch, capsys):
    """cli(*args): `coordinator webhooks …` on the test's database, in this process."""
    monkeypatch.setenv("COORDINATOR_DATABASE_URL", database_url)

    async def run(*args: str) -> Ran:
        code = await asyncio.to_thread(command_line.main, ["webhooks", *args])
        out, err = capsys.readouterr()
        return Ran(code, out, err)
    return run


async def test_an_endpoint_is_added_tested_with_a_signed_message_listed_and_removed(cli, sessionmaker):
    with WebhookReceiver() as receiver:
        added = await cli("add", "police", receiver.url("/hooks"))
        assert added.returncode == 0, added.stderr
        secret = added.stdout.split("shown once; give it to the agency's system): ")[1].strip()
        receiver.secrets["/hooks"] = secret
        assert secret.startswith("whsec_")

        listed = await cli("list")
        assert "1\tpolice\t" + receiver.url("/hooks") in listed.stdout and secret not in listed.stdout
        tested = await cli("test", "1")
        assert tested.returncode == 0 and "took the signed test message" in tested.stdout
        assert len(receiver.received) == 1 and '"type": "test"' in receiver.received[0].body

        receiver.secrets["/hooks"] = "whsec_" + "A" * 44  # the receiver expects another secret: refused
        refused = await cli("test", "1")
        assert refused.returncode == 2 and "endpoint answered 401" in refused.stderr

        removed = await cli("remove", "1")
        assert removed.returncode == 0
        assert "no webhook endpoints" in (await cli("list")).stdout
        again = await cli("test", "1")
        assert again.returncode == 2 and "was removed" in again.stderr
    async with sessionmaker() as session:
        actions = (await session.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars().all()
    assert actions == ["webhook.added", "webhook.removed"]


async def test_an_unknown_agency_or_an_address_that_is_not_http_is_refused(cli):
    unknown = await cli("add", "fire_service", "https://fire.example/hooks")
    assert unknown.returncode == 2 and "no agency 'fire_service' is installed" in unknown.stderr
    not_http = await cli("add", "police", "ftp://police.example/hooks")
    assert not_http.returncode == 2 and "http or https address" in not_http.stderr
    assert (await cli("remove", "7")).stderr.strip() == "error: no webhook endpoint 7"
