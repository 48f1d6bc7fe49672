"""The case page between meetings is live: a task changed, a follow-up planned or the case closed
elsewhere reaches every open case page at once, each rendered for its own reader through the gate;
a reader who may not see the case is refused like a missing one, and the page ends with its session."""

from __future__ import annotations

import asyncio

from websockets.exceptions import ConnectionClosed

from tests.conference_scenario import CALL_OUTS
from tests.live.clients import WAIT

SECTIONS = 'id="case-live"'


async def receive_until(socket, *texts: str) -> str:
    async with asyncio.timeout(WAIT):
        while True:
            message = await socket.recv()
            if all(text in message for text in texts):
                return message


async def test_a_change_elsewhere_reaches_each_open_case_page_as_its_reader_may_see_it(servers, people_on, scenario):
    server = servers()
    chair, pc, doc = await people_on(server, "chair", "pc", "doc")
    police_page = await pc.connect_to(f"/cases/{scenario.case_a}/live")
    health_page = await doc.connect_to(f"/cases/{scenario.case_a}/live")
    first = await receive_until(police_page, SECTIONS)  # the sections at once, as the page now stands
    assert CALL_OUTS in first
    assert CALL_OUTS not in await receive_until(health_page, SECTIONS)  # no consent: a placeholder

    tasks = (await chair.api("GET", f"/api/cases/{scenario.case_a}/tasks")).json()
    task = next(t for t in tasks if t["agency"] == "police" and t["status"] == "open")
    changed = await pc.api("PATCH", f"/api/tasks/{task['id']}", {"status": "blocked", "version": task["version"],
                                                                 "reason": "Waiting for the court's papers"})
    assert changed.status_code == 200, changed.text
    assert CALL_OUTS in await receive_until(police_page, "Waiting for the court&#39;s papers")
    assert CALL_OUTS not in await receive_until(health_page, "Waiting for the court&#39;s papers")

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
