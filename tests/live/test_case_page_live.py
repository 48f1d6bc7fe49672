"""The case workspace between meetings is live: a task changed, a follow-up planned or the case closed
elsewhere reaches every open case page at once, each rendered for its own reader through the gate,
and only in the sections that read what changed (the header, and the section on screen); opening a
page redraws nobody else's; a reader who may not see the case is refused like a missing one, and
the page ends with its session."""

from __future__ import annotations

import asyncio

from websockets.exceptions import ConnectionClosed

from tests.conference_scenario import CALL_OUTS
from tests.live.clients import WAIT

SECTION = 'id="section-body"'
HEADER = 'id="case-header"'


async def receive_until(socket, *texts: str) -> str:
    async with asyncio.timeout(WAIT):
        while True:
            message = await socket.recv()
            if all(text in message for text in texts):
                return message


async def test_a_change_elsewhere_reaches_each_open_case_page_as_its_reader_may_see_it(servers, people_on, scenario):
    server = servers()
    chair, pc, doc = await people_on(server, "chair", "pc", "doc")
    police_page = await pc.connect_to(f"/cases/{scenario.case_a}/live?section=tasks")
    health_page = await doc.connect_to(f"/cases/{scenario.case_a}/live?section=items")
    police_items = await pc.connect_to(f"/cases/{scenario.case_a}/live?section=items")
    await receive_until(police_page, SECTION, HEADER)  # the page's state at once, as it now stands
    assert CALL_OUTS not in await receive_until(health_page, SECTION)  # no consent: a placeholder
    assert CALL_OUTS in await receive_until(police_items, SECTION)

    tasks = (await chair.api("GET", f"/api/cases/{scenario.case_a}/tasks")).json()
    task = next(t for t in tasks if t["agency"] == "police" and t["status"] == "open")
    changed = await pc.api("PATCH", f"/api/tasks/{task['id']}", {"status": "blocked", "version": task["version"],
                                                                 "reason": "Waiting for the court's papers"})
    assert changed.status_code == 200, changed.text
    assert SECTION in await receive_until(police_page, "Waiting for the court&#39;s papers")
    # A task moved: the information section on screen is not redrawn, only the header.
    for page in (health_page, police_items):
        update = await receive_until(page, HEADER)
        assert SECTION not in update and CALL_OUTS not in update

    refused = await doc.connect_to(f"/cases/{scenario.case_c}/live")  # health is not part of case C
    try:
        await receive_until(refused, "never")
    except ConnectionClosed as closed:
        assert closed.rcvd.code == 4404
    await pc.api("POST", "/logout")
    try:
        await receive_until(police_page, "never")
    except ConnectionClosed as closed:
        assert closed.rcvd.code == 4401


async def test_opening_the_case_elsewhere_redraws_no_other_open_page(servers, people_on, scenario):
    server = servers()
    chair, pc = await people_on(server, "chair", "pc")
    first = await pc.connect_to(f"/cases/{scenario.case_a}/live?section=tasks")
    await receive_until(first, SECTION)
    second = await pc.connect_to(f"/cases/{scenario.case_a}/live?section=tasks")  # her second tab
    await receive_until(second, SECTION)
    tasks = (await chair.api("GET", f"/api/cases/{scenario.case_a}/tasks")).json()
    task = next(t for t in tasks if t["agency"] == "police" and t["status"] == "open")
    changed = await pc.api("PATCH", f"/api/tasks/{task['id']}", {"status": "in_progress", "version": task["version"]})
    assert changed.status_code == 200, changed.text
    # The first page's next message is that change: the second tab opening sent it nothing.
    async with asyncio.timeout(WAIT):
        update = await first.recv()
    assert f'id="task-{task["id"]}" class="task status-in_progress' in update
