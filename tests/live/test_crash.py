"""A server process killed mid-meeting (kill -9) and started again on the same database: every
acknowledged change is there exactly once, the audit chain holds, people who did not come back
are shown gone within the presence timeout, and a reconnected page shows what a fresh one does."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import httpx
from sqlalchemy import select

from coordinator.models import ConferenceNote, Task
from tests.unit.test_audit import _cli_verify

# Short intervals, so a crashed connection goes stale in seconds (the waits stay generous); the
# timeout is longer than a restart takes, so the pages usually see the dead connections go.
FAST = {"COORDINATOR_HEARTBEAT_SECONDS": "1", "COORDINATOR_PRESENCE_TIMEOUT_SECONDS": "6"}


async def _keep_changing(person, path: str, body, acknowledged: list[str], attempted: list[str]) -> None:
    """Make changes one after another until the server goes away; remember which it answered."""
    for number in range(10_000):
        text = f"crash-test change {path.rsplit('/', 1)[1]} {number:04d}"
        attempted.append(text)
        try:
            response = await person.api("POST", path, body(text))
        except httpx.TransportError:
            return
        assert response.status_code == 200, response.text
        acknowledged.append(text)


async def test_a_killed_server_loses_nothing_acknowledged_and_its_absent_people_go(
        servers, people_on, scenario, sessionmaker, database_url):
    conference, case = scenario.conference_id, scenario.case_a
    url = f"/api/conferences/{conference}"
    server = servers(env=FAST)
    chair, pc, sw, doc = await people_on(server, "chair", "pc", "sw", "doc")
    pages = [await person.open_page(conference) for person in (chair, pc, sw, doc)]
    await pages[0].wait_for(lambda page: all(page.presence(n) == "present" for n in ("Pc", "Sw", "Doc")))

    acknowledged: list[str] = []
    attempted: list[str] = []
    writers = [
        asyncio.create_task(_keep_changing(chair, f"{url}/notes", lambda text: {
            "case_id": case, "kind": "decision", "text": text}, acknowledged, attempted)),
        asyncio.create_task(_keep_changing(pc, f"{url}/actions", lambda text: {
            "case_id": case, "agency": "police", "title": text, "domain": "victim", "due_on": "2026-12-01"},
            acknowledged, attempted)),
    ]
    async with asyncio.timeout(30):
        while len(acknowledged) < 10:
            await asyncio.sleep(0.02)
    os.kill(server.pid, signal.SIGKILL)  # mid-stream: changes in flight, pages open
    killed_at = time.monotonic()
    server.process.wait()
    await asyncio.gather(*writers)

    restarted = servers(env=FAST)
    chair, pc = await people_on(restarted, "chair", "pc")  # sw and doc do not come back
    back = await chair.open_page(conference)
    await pc.open_page(conference)
    await back.wait_for(lambda page: page.presence("Sw") == page.presence("Doc") == "away"
                        and page.presence("Chair") == page.presence("Pc") == "present")
    print(f"absent {time.monotonic() - killed_at:.1f} s after the kill")
    assert "Left" in back.part("presence")

    async with sessionmaker() as session:
        stored = Counter([*(await session.execute(select(ConferenceNote.text))).scalars(),
                          *(await session.execute(select(Task.title))).scalars()])
    assert all(stored[text] == 1 for text in acknowledged), stored
    assert all(stored[text] <= 1 for text in attempted)  # the one in flight: there at most once
    code, output = await _cli_verify(database_url)
    assert code == 0 and "audit log intact" in output, output

    after = await chair.api("POST", f"{url}/notes", {"case_id": case, "kind": "note", "text": "After the restart"})
    assert after.status_code == 200, after.text
    fresh = await chair.open_page(conference)
    await fresh.wait_until("notes", "After the restart")
    await back.wait_for(lambda page: page.shown == fresh.shown)
    assert all(fresh.part("notes").count(text) == 1 for text in acknowledged if "notes" in text)
