"""The audit log: every change is in it, and `coordinator audit verify` finds an edited, a deleted
or a reordered entry and names the first one broken."""

import asyncio
import os
import sys

from sqlalchemy import delete, select, update

from coordinator import audit
from coordinator.models import AuditEntry
from tests.sharing_steps import decide, grant_consent, record_item, request_override, withdraw
from tests.web.support import whole_case

CONTENT = ("at", "actor_id", "actor_agency", "action", "case_id", "subject", "detail", "prev_hash", "hash")


async def _sharing_history(client_for, case) -> None:
    """A little of everything the sharing features change, and a disclosure."""
    police, health = await client_for("pc"), await client_for("doc")
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    item = await record_item(police, case["id"], "police.call_outs", "Call-out on 3 March")
    await police.post(f"/api/cases/{case['id']}/items/{item['id']}/corrections", json={"text": "Call-outs on 3 March"})
    consent = await grant_consent(chair, case["id"], ["police.call_outs"], ["health", "social_work"])
    await whole_case(health, case['id'])
    await withdraw(chair, case["id"], consent, ("police.call_outs", "health"))
    approved = await request_override(health, case["id"], ["police.call_outs"], ["health"])
    await decide(supervisor, case["id"], approved["id"], "approve")
    refused = await request_override(health, case["id"], ["police.criminal_record"], ["health"])
    await decide(supervisor, case["id"], refused["id"], "refuse")
    await supervisor.post(f"/api/cases/{case['id']}/overrides/{approved['id']}/survivor-notice",
                          json={"informed": False, "reason": "it would put her at risk"})


async def _entries(sessionmaker) -> list[AuditEntry]:
    async with sessionmaker() as session:
        return list((await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars())


async def _verify(sessionmaker) -> audit.VerifyResult:
    async with sessionmaker() as session:
        return await audit.verify(session)


async def _cli_verify(database_url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coordinator.cli", "audit", "verify",
        env={**os.environ, "COORDINATOR_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode, output.decode()


async def test_every_change_and_every_disclosure_is_in_the_log(client_for, case, sessionmaker):
    await _sharing_history(client_for, case)
    actions = {entry.action for entry in await _entries(sessionmaker)}
    assert {"user.created", "login.succeeded", "case.created", "case.agency_added", "information.recorded",
            "information.corrected", "case.event.information_recorded", "consent.granted", "consent.withdrawn",
            "override.requested", "override.approved", "override.refused", "override.survivor_notice",
            "information.disclosed"} <= actions
    assert (await _verify(sessionmaker)).ok


async def test_the_log_never_holds_item_text(client_for, case, sessionmaker):
    await _sharing_history(client_for, case)
    assert not [e.id for e in await _entries(sessionmaker) if "Call-out" in e.detail]


async def test_verify_finds_an_edited_entry(client_for, case, sessionmaker):
    await _sharing_history(client_for, case)
    target = next(e for e in await _entries(sessionmaker) if e.action == "consent.withdrawn")
    async with sessionmaker() as session:
        await session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(detail='{"whole":false}'))
        await session.commit()
    result = await _verify(sessionmaker)
    assert (result.ok, result.broken_id) == (False, target.id) and "edited" in result.problem


async def test_verify_finds_an_entry_edited_and_rehashed_at_the_next_link(client_for, case, sessionmaker):
    await _sharing_history(client_for, case)
    entries = await _entries(sessionmaker)
    target = next(e for e in entries if e.action == "override.approved")
    async with sessionmaker() as session:
        forged = await session.get(AuditEntry, target.id)
        forged.actor_id = 999
        forged.hash = audit.entry_hash(forged)
        await session.commit()
    result = await _verify(sessionmaker)
    assert (result.ok, result.broken_id) == (False, entries[entries.index(target) + 1].id)


async def test_verify_finds_a_deleted_entry(client_for, case, sessionmaker):
    await _sharing_history(client_for, case)
    entries = await _entries(sessionmaker)
    target = next(e for e in entries if e.action == "information.disclosed")
    async with sessionmaker() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.id == target.id))
        await session.commit()
    result = await _verify(sessionmaker)
    assert (result.ok, result.broken_id) == (False, entries[entries.index(target) + 1].id)
    assert "deleted" in result.problem


async def test_verify_finds_reordered_entries(client_for, case, sessionmaker):
    await _sharing_history(client_for, case)
    entries = await _entries(sessionmaker)
    first, second = entries[5], entries[6]
    async with sessionmaker() as session:
        for this, that in ((first, second), (second, first)):
            await session.execute(update(AuditEntry).where(AuditEntry.id == this.id)
                                  .values({name: getattr(that, name) for name in CONTENT}))
        await session.commit()
    result = await _verify(sessionmaker)
    assert (result.ok, result.broken_id) == (False, first.id) and "reordered" in result.problem


async def test_the_verify_command_exits_zero_when_intact_and_one_naming_the_broken_entry(
        client_for, case, sessionmaker, database_url):
    await _sharing_history(client_for, case)
    code, output = await _cli_verify(database_url)
    assert code == 0 and "audit log intact" in output
    target = (await _entries(sessionmaker))[3]
    async with sessionmaker() as session:
        await session.execute(update(AuditEntry).where(AuditEntry.id == target.id).values(subject="tampered"))
        await session.commit()
    code, output = await _cli_verify(database_url)
    assert code == 1 and f"BROKEN at entry {target.id}" in output


async def test_verify_finds_a_deleted_entry_whose_successor_was_relinked(client_for, case, sessionmaker):
    """Each hash covers the previous entry's hash: cutting an entry out and relinking the next one
    to the entry before it breaks that next entry's own hash."""
    await _sharing_history(client_for, case)
    entries = await _entries(sessionmaker)
    index = next(i for i, e in enumerate(entries) if e.action == "information.disclosed")
    cut, successor = entries[index], entries[index + 1]
    async with sessionmaker() as session:
        await session.execute(delete(AuditEntry).where(AuditEntry.id == cut.id))
        await session.execute(update(AuditEntry).where(AuditEntry.id == successor.id)
                              .values(prev_hash=entries[index - 1].hash))
        await session.commit()
    result = await _verify(sessionmaker)
    assert (result.ok, result.broken_id) == (False, successor.id)
