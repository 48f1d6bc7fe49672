"""The live page's websocket: authenticated like every request, and bound to its login session.

A socket is refused (accepted, then closed at once with a code saying why) unless it comes
from our own origin, with a live session of an active user who is admitted to the conference.
It then lives only as long as that session: logout or deactivation (announced by event, from
any process) or idle expiry (found by a periodic check) closes it with 4401, and the page says
the session ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from litestar import WebSocket, websocket
from litestar.params import FromPath

from coordinator import accounts
from coordinator.conference import participation
from coordinator.errors import NotFound
from coordinator.models import LiveConnection, User
from coordinator.policy import Actor, Audience, StatementNeeded
from coordinator.web.live.hub import LiveHub, Member

# Close codes: the page (and any client) can tell the reasons apart. A conference the user is
# not invited to is "not found", exactly like one that does not exist.
CLOSE_SESSION_ENDED = 4401
CLOSE_FORBIDDEN = 4403  # wrong origin
CLOSE_NOT_FOUND = 4404
CLOSE_STATEMENT_NEEDED = 4428
CLOSE_BEHIND = 1013  # "try again later": htmx's ws extension reconnects, and gets the whole state
SESSION_COOKIE = "session"
log = logging.getLogger("coordinator.live")


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def same_origin(socket: WebSocket) -> bool:
    """Browsers send Origin on every websocket; CSRF protection does not cover websockets, so
    a page of another site must not open one with our cookies."""
    origin, host = socket.headers.get("origin"), socket.headers.get("host")
    return bool(origin and host) and urlsplit(origin).netloc == host


async def session_holds(socket: WebSocket, session_key: str | None) -> bool:
    """The login session still exists, has not expired, and its user is still active."""
    if session_key is None:
        return False
    async with socket.app.state.sessionmaker() as db:
        return session_key in await accounts.live_sessions(db, {session_key})


async def _admit(socket: WebSocket, conference_id: int) -> tuple[Actor, Audience, str]:
    if not same_origin(socket):
        raise Refused(CLOSE_FORBIDDEN, "origin not allowed")
    session_key = socket.cookies.get(SESSION_COOKIE)
    user_id = socket.scope.get("session", {}).get("user_id") if "session" in socket.scope else None
    if user_id is None or not await session_holds(socket, session_key):
        raise Refused(CLOSE_SESSION_ENDED, "your session has ended: log in again")
    async with socket.app.state.sessionmaker() as db:
        actor = accounts.actor_of(await db.get(User, user_id))
        try:
            place = await participation.seat(db, actor, conference_id)
        except NotFound as error:
            raise Refused(CLOSE_NOT_FOUND, error.message) from None
        except StatementNeeded as error:
            raise Refused(CLOSE_STATEMENT_NEEDED, error.message) from None
    return actor, place.audience, session_key


async def _presence(socket: WebSocket, change: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    async with socket.app.state.sessionmaker() as db:
        result = await change(db, *args)
        await db.commit()
    return result


async def send_outbox(socket: WebSocket, member: Member) -> None:
    while True:
        await socket.send_text(await member.outbox.get())


async def until_disconnect(socket: WebSocket) -> None:
    while (await socket.receive())["type"] != "websocket.disconnect":
        pass  # the page sends nothing we act on; changes come by HTTP


async def serve(socket: WebSocket, member: Member) -> None:
    """Send the page what is queued for it until it goes away, its session ends (4401), its
    person may no longer see it (4404) or it falls too far behind (1013, and it reconnects to
    the current state)."""
    sender = asyncio.create_task(send_outbox(socket, member))
    closers = {
        # Set by a logout announced from any process, or by the hub's session check.
        asyncio.create_task(member.ended.wait()): (CLOSE_SESSION_ENDED, "your session has ended: log in again"),
        # Set when the person is removed from the conference (or may no longer see the case).
        asyncio.create_task(member.removed.wait()): (CLOSE_NOT_FOUND, "you are no longer part of this"),
        # Not left to the sender: a stuck page's send never returns.
        asyncio.create_task(member.behind.wait()): (CLOSE_BEHIND,
                                                    "the page fell behind: reconnect for the current state"),
    }
    watchers = [sender, asyncio.create_task(until_disconnect(socket)), *closers]
    done, pending = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    # Every finished task's outcome is collected, not only the first: the sender failing on the
    # closed socket in the same step as the disconnect is how every page ends, and an exception
    # never retrieved is logged as an error on every page close.
    for task in done:
        failure = None if task.cancelled() else task.exception()
        if failure is not None:
            log.debug("live page %s ended: %r", "sending" if task is sender else "watching", failure)
    closing = next((closers[task] for task in watchers if task in done and task in closers), None)
    if closing is not None:
        await socket.close(code=closing[0], reason=closing[1])


@websocket("/conferences/{conference_id:int}/live", opt={"exclude_from_auth": True})
async def conference_live(socket: WebSocket, conference_id: FromPath[int]) -> None:
    """The live page's connection: the full page at once, then every change as it happens,
    until the page goes away or its session ends."""
    try:
        actor, audience, session_key = await _admit(socket, conference_id)
    except Refused as refused:
        await socket.accept()
        await socket.close(code=refused.code, reason=refused.reason)
        return
    hub: LiveHub = socket.app.state.live
    room, member = await hub.enter(conference_id, actor, audience, session_key)  # subscribed before accepting
    connection: LiveConnection | None = None
    try:
        await socket.accept()
        connection = await _presence(socket, participation.enter_room, actor, conference_id, socket.app.state.process)
        member.connection = connection  # from now on kept fresh by the hub's heartbeat
        room.send_everything(member)
        await serve(socket, member)
    finally:
        await hub.leave(room, member)  # after this no heartbeat lists the page, so none brings its row back
        if connection is not None:
            await _presence(socket, participation.leave_room, actor, connection)
