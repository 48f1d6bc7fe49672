"""A page closing is not an error: the send that fails on the closed socket in the same step as
the disconnect is collected with it, so nothing is logged as "Task exception was never
retrieved" (noise that hid real errors in the server's log)."""

from __future__ import annotations

import asyncio
import gc

from coordinator.policy import Actor, Audience
from coordinator.web.live import socket as socket_module
from coordinator.web.live.hub import Member


class ClosingPage:
    """A socket that has just gone: the pending send fails and the disconnect is already there,
    so both of the page's tasks end in their first step, together."""

    def __init__(self) -> None:
        self.closed: int | None = None

    async def send_text(self, _message: str) -> None:
        raise RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'")

    async def receive(self) -> dict:
        return {"type": "websocket.disconnect", "code": 1001}

    async def close(self, code: int, reason: str = "") -> None:
        self.closed = code


async def test_closing_a_page_leaves_no_task_exception_unretrieved():
    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        member = Member(Actor(id=1, agency="police", role="member", name="Pc"), Audience("police", "member"), None)
        member.offer("<div id=\"x\"></div>")  # an update on its way as the page goes
        page = ClosingPage()
        await socket_module.serve(page, member)
        gc.collect()  # a task's unretrieved exception is reported when the task is collected
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert [context["message"] for context in reported] == []
    assert page.closed is None  # it went by itself: nothing to close
