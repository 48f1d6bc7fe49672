"""`coordinator serve --workers 2` on PostgreSQL and Redis: two worker processes share the port,
a live conference runs through it, and SIGTERM stops every process by itself, the open pages
told to reconnect."""

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

from tests.conference_scenario import CALL_OUTS
from tests.live.test_two_servers import REDIS_URL, answering, two_processes, unavailable


def workers_of(pid: int) -> list[int]:
    """The worker processes the server started (multiprocessing's spawned children)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


@two_processes
async def test_two_workers_serve_a_live_conference_and_stop_gracefully(servers, people_on, scenario):
    if not answering(REDIS_URL):
        unavailable(f"Redis does not answer at {REDIS_URL}")
    server = servers(channels_url=REDIS_URL, channels_prefix=f"test{uuid.uuid4().hex[:10]}", workers=2)
    async with asyncio.timeout(60):
        while len(workers_of(server.pid)) < 2 or server.log().count("Application startup complete") < 2:
            await asyncio.sleep(0.1)
    chair, pc, sw = await people_on(server, "chair", "pc", "sw")
    pages = [await person.open_page(scenario.conference_id) for person in (pc, sw, pc, sw)]
    assert all(CALL_OUTS in page.part("case") for page in pages)
    noted = await chair.api("POST", f"/api/conferences/{scenario.conference_id}/notes", {
        "case_id": scenario.case_a, "kind": "decision", "text": "Refer to the refuge"})
    assert noted.status_code == 200, noted.text
    for page in pages:  # wherever each page's connection landed
        await page.wait_until("notes", "Refer to the refuge")

    workers = workers_of(server.pid)
    os.kill(server.pid, signal.SIGTERM)
    returncode = await asyncio.to_thread(server.process.wait, 30)
    assert returncode == 0  # stopped by itself, not killed
    for page in pages:
        await asyncio.wait_for(page.socket.wait_closed(), 20)
        assert page.socket.close_code == 1012  # "service restart": htmx reconnects on its own
    assert not any(Path(f"/proc/{worker}").exists() for worker in workers)
    # Every worker logs JSON lines too (each sets its logging up after building its app).
    records = [json.loads(line) for line in server.log().splitlines()[1:] if line.strip()]
    assert {record["pid"] for record in records} >= set(workers)
