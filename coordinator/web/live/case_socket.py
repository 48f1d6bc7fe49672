"""A case page's websocket: the page's header and section re-rendered for its reader whenever the
case changes in a part they read (a task, a follow-up, the plan, a closure: the same events as
the conference). The page says which section it shows (``?section=``).

Admitted like the live conference's socket (our origin, a live session of an active user), and
only to a reader who may see the case (else closed with 4404, like a case that does not exist);
it lives as long as its login session does.
"""

from __future__ import annotations

from litestar import WebSocket, websocket
from litestar.params import FromPath

from coordinator import accounts, cases
from coordinator.errors import NotFound
from coordinator.models import User
from coordinator.web.live.hub import LiveHub
from coordinator.web.live.socket import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_SESSION_ENDED,
    SESSION_COOKIE,
    same_origin,
    serve,
    session_holds,
)
from coordinator.web.sections import workspace

CSRF_COOKIE = "csrftoken"


async def _refuse(socket: WebSocket, code: int, reason: str) -> None:
    await socket.accept()
    await socket.close(code=code, reason=reason)


@websocket("/cases/{case_id:int}/live", opt={"exclude_from_auth": True})
async def case_live(socket: WebSocket, case_id: FromPath[int]) -> None:
    if not same_origin(socket):
        return await _refuse(socket, CLOSE_FORBIDDEN, "origin not allowed")
    session_key = socket.cookies.get(SESSION_COOKIE)
    user_id = socket.scope.get("session", {}).get("user_id") if "session" in socket.scope else None
    if user_id is None or not await session_holds(socket, session_key):
        return await _refuse(socket, CLOSE_SESSION_ENDED, "your session has ended: log in again")
    async with socket.app.state.sessionmaker() as db:
        actor = accounts.actor_of(await db.get(User, user_id))
        try:
            await cases.case_for(db, actor, case_id)
        except NotFound as error:
            return await _refuse(socket, CLOSE_NOT_FOUND, error.message)
    hub: LiveHub = socket.app.state.live
    # The page's forms post with the reader's own token, as the page it replaces did.
    section = socket.query_params.get("section", "")
    watch, member = await hub.watch_case(case_id, actor, session_key, socket.cookies.get(CSRF_COOKIE, ""),
                                         section if section in workspace.BY_KEY else workspace.FIRST.key)
    try:
        await socket.accept()
        await serve(socket, member)
    finally:
        await hub.unwatch_case(watch, member)
