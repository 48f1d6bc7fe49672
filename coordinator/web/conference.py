"""The live conference over HTTP and websocket: scheduling, the statement, the live page and
its changes (HTML forms and the JSON API alike), the websocket, and the minutes.

Every change: parse, call one service, commit, then announce it to every open page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from litestar import Request, Response, WebSocket, get, post, put, websocket
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, conferences
from coordinator.audit import Actor
from coordinator.cases import require_coordinator
from coordinator.conferences import (
    ActionConfirmIn,
    ActionIn,
    ActionStatusIn,
    AgendaOrderIn,
    Changed,
    ConferenceIn,
    ConferenceState,
    InviteIn,
    MoveIn,
    NoteIn,
    RoleIn,
    RoleSlotIn,
    StatementNeeded,
    VersionIn,
)
from coordinator.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from coordinator.live import LiveHub, render_fragments
from coordinator.models import User
from coordinator.plugins import AgencyRegistry
from coordinator.web.auth import current_actor
from coordinator.web.forms import optional_date, optional_int, text

# Websocket close codes: the page (and any client) can tell the reasons apart.
CLOSE_NOT_LOGGED_IN = 4401
CLOSE_FORBIDDEN = 4403  # wrong origin, or not invited
CLOSE_NOT_FOUND = 4404
CLOSE_STATEMENT_NEEDED = 4428


@dataclass(frozen=True)
class Operation:
    """One kind of change made during the meeting: its input and its service, which share one
    signature ``(session, registry, actor, conference_id, data) -> Changed``. ``shows`` is what
    to send back, current, to someone whose change was refused."""

    data: type
    run: Callable[..., Awaitable[Changed]]
    shows: frozenset[str]


OPERATIONS = {
    "start": Operation(VersionIn, conferences.start_conference, conferences.EVERYTHING),
    "move": Operation(MoveIn, conferences.move_to_case, conferences.EVERYTHING),
    "agenda": Operation(AgendaOrderIn, conferences.reorder_agenda, frozenset({"agenda", "status"})),
    "end": Operation(VersionIn, conferences.end_conference, conferences.EVERYTHING),
    "assign-role": Operation(RoleIn, conferences.assign_role, frozenset({"roles"})),
    "volunteer": Operation(RoleSlotIn, conferences.volunteer_for_role, frozenset({"roles"})),
    "confirm-role": Operation(RoleSlotIn, conferences.confirm_role, frozenset({"roles"})),
    "add-action": Operation(ActionIn, conferences.add_action, frozenset({"actions"})),
    "action-status": Operation(ActionStatusIn, conferences.change_action, frozenset({"actions"})),
    "confirm-action": Operation(ActionConfirmIn, conferences.confirm_action, frozenset({"actions"})),
    "note": Operation(NoteIn, conferences.add_note, frozenset({"notes"})),
}


def _hub(connection: Request | WebSocket) -> LiveHub:
    return connection.app.state.live


def _read_field(form: FormMultiDict, name: str, kind: object) -> object:
    """One form field as the type the input dataclass declares."""
    optional = isinstance(kind, types.UnionType) and type(None) in typing.get_args(kind)
    base = next((a for a in typing.get_args(kind) if a is not type(None)), kind) if optional else kind
    if typing.get_origin(base) is list:
        try:
            return [int(value) for value in form.getall(name)] if name in form else []
        except ValueError:
            raise Invalid("expected whole numbers", field=name) from None
    if base is int:
        value = optional_int(form, name)
        if value is None and not optional:
            raise Invalid("this is required", field=name)
        return value
    if base is dt.date:
        return optional_date(form, name)
    return text(form, name) or (None if optional else "")


def from_form(data_class: type, form: FormMultiDict) -> object:
    """Build an operation's input from a submitted form, by the dataclass's own field types."""
    hints = typing.get_type_hints(data_class)
    return data_class(**{f.name: _read_field(form, f.name, hints[f.name]) for f in fields(data_class)})


async def _apply(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int,
                 operation: Operation, data: object) -> Changed:
    """Run one change, commit it, then announce it to every page (never before the commit)."""
    changed = await operation.run(db, registry, current_actor(request), conference_id, data)
    await db.commit()
    _hub(request).announce(changed)
    return changed


async def _fragments_for(db: AsyncSession, registry: AgencyRegistry, request: Request, conference_id: int,
                         aspects: frozenset[str]) -> str:
    """The current state of ``aspects`` as the requester's agency sees it, for an out-of-band swap."""
    actor = current_actor(request)
    state = await conferences.load_state(db, registry, conference_id, aspects)
    items = await conferences.current_items(db, registry, actor, state) if "case" in aspects else None
    await db.commit()
    return render_fragments(_hub(request).env, aspects, state, actor.agency, items)


# --- pages -----------------------------------------------------------------------------------

@get("/conferences")
async def conference_list(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    """The actor's conferences (the dashboard loads this list into itself)."""
    actor = current_actor(request)
    listed = await conferences.conferences_for(db, actor)
    return Template("_conference_list.html", context={"listed": listed, "actor": actor})


@get("/conferences/new")
async def schedule_page(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    choices = await conferences.scheduling_choices(db, current_actor(request))
    return Template("conference_form.html", context={"choices": choices, "values": {}, "error": None})


def _schedule_from_form(form: FormMultiDict) -> ConferenceIn:
    raw_when = text(form, "scheduled_at")
    try:  # the form's local time is taken as UTC, as the form says
        when = dt.datetime.fromisoformat(raw_when).replace(tzinfo=dt.UTC)
    except ValueError:
        raise Invalid("enter a date and time", field="scheduled_at") from None
    chair_id = optional_int(form, "chair_id")
    if chair_id is None:
        raise Invalid("choose the chair", field="chair_id")
    invited = [int(v) for v in form.getall("invite")] if "invite" in form else []
    return ConferenceIn(
        title=text(form, "title"), scheduled_at=when, chair_id=chair_id,
        case_ids=[int(v) for v in form.getall("case_ids")] if "case_ids" in form else [],
        participants=[InviteIn(user_id, text(form, f"role_{user_id}") or "representative") for user_id in invited])


@post("/conferences")
async def schedule(request: Request, db: NamedDependency[AsyncSession]) -> Template | Redirect:
    form = await request.form()
    actor = current_actor(request)
    try:
        conference = await conferences.schedule_conference(db, actor, _schedule_from_form(form))
    except Invalid as error:
        await db.rollback()
        values = {key: form.get(key) for key in form}
        values["case_ids"] = form.getall("case_ids") if "case_ids" in form else []
        values["invite"] = form.getall("invite") if "invite" in form else []
        return Template("conference_form.html", status_code=400, context={
            "choices": await conferences.scheduling_choices(db, actor), "values": values, "error": error})
    await db.commit()
    return Redirect(f"/conferences/{conference.id}", status_code=303)


POWERS = {"chair": "can-chair can-note", "coordinator": "can-chair can-note", "minute_taker": "can-note"}


@get("/conferences/{conference_id:int}")
async def conference_page(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int]) -> Template:
    """The live page; until the participant accepts the confidentiality statement, the statement."""
    actor = current_actor(request)
    try:
        page = await conferences.live_page(db, registry, actor, conference_id)
    except StatementNeeded:
        state = await conferences.load_state(db, registry, conference_id, frozenset())
        return Template("conference_statement.html", context={
            "conference": state, "statement": conferences.CONFIDENTIALITY_STATEMENT})
    await db.commit()  # the disclosures of the items shown
    return Template("conference.html", context={
        "conference": page.state, "agency": actor.agency, "items": page.items, "powers": POWERS.get(page.role, "")})


@post("/conferences/{conference_id:int}/statement")
async def accept_statement(request: Request, db: NamedDependency[AsyncSession],
                           conference_id: FromPath[int]) -> Redirect:
    await conferences.accept_statement(db, current_actor(request), conference_id)
    await db.commit()
    return Redirect(f"/conferences/{conference_id}", status_code=303)


@post("/conferences/{conference_id:int}/apologies")
async def send_apologies(request: Request, db: NamedDependency[AsyncSession], conference_id: FromPath[int]) -> Redirect:
    changed = await conferences.send_apologies(db, current_actor(request), conference_id)
    await db.commit()
    _hub(request).announce(changed)
    return Redirect("/", status_code=303)


@post("/conferences/{conference_id:int}/changes/{operation:str}", status_code=200)
async def change_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      conference_id: FromPath[int], operation: FromPath[str]) -> Response | Redirect:
    """A change from the live page. htmx gets the notice area back (empty, or the error with the
    current state of what was refused); the change itself reaches every page by websocket."""
    if operation not in OPERATIONS:
        raise NotFound(f"no change called {operation!r}")
    op = OPERATIONS[operation]
    htmx = request.headers.get("hx-request") == "true"
    env = _hub(request).env
    try:
        await _apply(request, db, registry, conference_id, op, from_form(op.data, await request.form()))
    except DomainError as error:
        await db.rollback()
        if not htmx:
            raise
        current = await _fragments_for(db, registry, request, conference_id, op.shows)
        notice = env.get_template("_conference_notice.html").render(error=error)
        return Response(notice + current, status_code=error.status, media_type="text/html")
    if not htmx:
        return Redirect(f"/conferences/{conference_id}", status_code=303)
    return Response(env.get_template("_conference_notice.html").render(error=None), media_type="text/html")


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


async def _minutes(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int):
    result = await conferences.minutes(db, registry, current_actor(request), conference_id)
    await db.commit()  # the disclosures of the items in the minutes
    return result


@get("/conferences/{conference_id:int}/minutes")
async def minutes_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       conference_id: FromPath[int]) -> Template:
    return Template("conference_minutes.html", context={
        "minutes": await _minutes(request, db, registry, conference_id), "standalone": False})


@get("/conferences/{conference_id:int}/minutes.html")
async def minutes_html(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       conference_id: FromPath[int]) -> Template:
    minutes = await _minutes(request, db, registry, conference_id)
    return Template("conference_minutes_file.html", context={"minutes": minutes},
                    headers=_attachment(f"minutes-conference-{conference_id}-{minutes.agency or 'all'}.html"))


@get("/conferences/{conference_id:int}/minutes.md")
async def minutes_markdown(request: Request, db: NamedDependency[AsyncSession],
                           registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int]) -> Template:
    minutes = await _minutes(request, db, registry, conference_id)
    return Template("conference_minutes.md", context={"minutes": minutes}, media_type="text/markdown; charset=utf-8",
                    headers=_attachment(f"minutes-conference-{conference_id}-{minutes.agency or 'all'}.md"))


# --- the websocket -------------------------------------------------------------------------------

class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _same_origin(socket: WebSocket) -> bool:
    """Browsers send Origin on every websocket; CSRF protection does not cover websockets, so
    a page of another site must not open one with our cookies."""
    origin, host = socket.headers.get("origin"), socket.headers.get("host")
    return bool(origin and host) and urlsplit(origin).netloc == host


async def _admit(socket: WebSocket, conference_id: int) -> Actor:
    if not _same_origin(socket):
        raise Refused(CLOSE_FORBIDDEN, "origin not allowed")
    user_id = socket.scope.get("session", {}).get("user_id") if "session" in socket.scope else None
    if user_id is None:
        raise Refused(CLOSE_NOT_LOGGED_IN, "log in first")
    async with socket.app.state.sessionmaker() as db:
        user = await db.get(User, user_id)
        if user is None or not user.active:
            raise Refused(CLOSE_NOT_LOGGED_IN, "log in first")
        actor = accounts.actor_of(user)
        try:
            await conferences.admitted_participant(db, conference_id, actor)
        except NotFound as error:
            raise Refused(CLOSE_NOT_FOUND, error.message) from None
        except StatementNeeded as error:
            raise Refused(CLOSE_STATEMENT_NEEDED, error.message) from None
        except Forbidden as error:
            raise Refused(CLOSE_FORBIDDEN, error.message) from None
    return actor


async def _presence(socket: WebSocket, change: Callable[..., Awaitable[Changed]], actor: Actor,
                    conference_id: int) -> None:
    async with socket.app.state.sessionmaker() as db:
        changed = await change(db, actor, conference_id)
        await db.commit()
    _hub(socket).announce(changed)


@websocket("/conferences/{conference_id:int}/live", opt={"exclude_from_auth": True})
async def conference_live(socket: WebSocket, conference_id: FromPath[int]) -> None:
    """The live page's connection: the full page at once, then every change as it happens.
    Refusals are accepted and closed at once with a code saying why."""
    try:
        actor = await _admit(socket, conference_id)
    except Refused as refused:
        await socket.accept()
        await socket.close(code=refused.code, reason=refused.reason)
        return
    hub = _hub(socket)
    room, member = await hub.enter(conference_id, actor)  # subscribed before accepting
    try:
        await socket.accept()
        await _presence(socket, conferences.enter_room, actor, conference_id)
        room.send_everything(member)
        sender = asyncio.create_task(_send_outbox(socket, member.outbox))
        try:
            while (await socket.receive())["type"] != "websocket.disconnect":
                pass  # the page sends nothing we act on; changes come by HTTP
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
    finally:
        await hub.leave(room, member)
        await _presence(socket, conferences.leave_room, actor, conference_id)


async def _send_outbox(socket: WebSocket, outbox: asyncio.Queue[str]) -> None:
    while True:
        await socket.send_text(await outbox.get())


# --- JSON API -------------------------------------------------------------------------------------

@get("/api/conferences")
async def api_list(request: Request, db: NamedDependency[AsyncSession]) -> list[dict]:
    return [{"id": c.id, "title": c.title, "scheduled_at": c.scheduled_at, "status": c.status,
             "role": p.role if p else None, "statement_accepted": bool(p and p.statement_accepted_at)}
            for c, p in await conferences.conferences_for(db, current_actor(request))]


@post("/api/conferences")
async def api_schedule(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       data: JSONBody[ConferenceIn]) -> ConferenceState:
    conference = await conferences.schedule_conference(db, current_actor(request), data)
    await db.commit()
    return await conferences.load_state(db, registry, conference.id)


@get("/api/conferences/{conference_id:int}")
async def api_state(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                    conference_id: FromPath[int]) -> dict:
    """The conference as the live page shows it, with the current case's information as the
    consent gate allows the requester's agency."""
    page = await conferences.live_page(db, registry, current_actor(request), conference_id)
    await db.commit()
    return {"conference": page.state, "items": page.items}


@post("/api/conferences/{conference_id:int}/participants")
async def api_invite(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     conference_id: FromPath[int], data: JSONBody[InviteIn]) -> ConferenceState:
    changed = await conferences.invite_participant(db, current_actor(request), conference_id, data)
    await db.commit()
    _hub(request).announce(changed)
    return await conferences.load_state(db, registry, conference_id)


@post("/api/conferences/{conference_id:int}/statement", status_code=200)
async def api_accept_statement(request: Request, db: NamedDependency[AsyncSession],
                               conference_id: FromPath[int]) -> dict:
    participant = await conferences.accept_statement(db, current_actor(request), conference_id)
    await db.commit()
    return {"statement": conferences.CONFIDENTIALITY_STATEMENT, "accepted_at": participant.statement_accepted_at}


async def _api_change(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int,
                      operation: str, data: object) -> Response:
    """Run a change and answer with the current state of what it touches; a change refused
    because of a concurrent one answers 409 with the message and that same current state, so
    the client can show what won."""
    op = OPERATIONS[operation]
    try:
        await _apply(request, db, registry, conference_id, op, data)
    except Conflict as conflict:
        await db.rollback()
        current = await conferences.load_state(db, registry, conference_id, op.shows)
        return Response({"status_code": 409, "detail": conflict.message, "field": conflict.field, "current": current},
                        status_code=409)
    return Response(await conferences.load_state(db, registry, conference_id, op.shows), status_code=200)


@post("/api/conferences/{conference_id:int}/start")
async def api_start(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                    conference_id: FromPath[int], data: JSONBody[VersionIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "start", data)


@post("/api/conferences/{conference_id:int}/move")
async def api_move(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   conference_id: FromPath[int], data: JSONBody[MoveIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "move", data)


@put("/api/conferences/{conference_id:int}/agenda")
async def api_reorder(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      conference_id: FromPath[int], data: JSONBody[AgendaOrderIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "agenda", data)


@post("/api/conferences/{conference_id:int}/end")
async def api_end(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                  conference_id: FromPath[int], data: JSONBody[VersionIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "end", data)


@post("/api/conferences/{conference_id:int}/roles")
async def api_assign_role(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                          data: JSONBody[RoleIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "assign-role", data)


@post("/api/conferences/{conference_id:int}/roles/volunteer")
async def api_volunteer(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        conference_id: FromPath[int], data: JSONBody[RoleSlotIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "volunteer", data)


@post("/api/conferences/{conference_id:int}/roles/confirm")
async def api_confirm_role(request: Request, db: NamedDependency[AsyncSession],
                           registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                           data: JSONBody[RoleSlotIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "confirm-role", data)


@post("/api/conferences/{conference_id:int}/actions")
async def api_add_action(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                         conference_id: FromPath[int], data: JSONBody[ActionIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "add-action", data)


@post("/api/conferences/{conference_id:int}/actions/status")
async def api_action_status(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                            data: JSONBody[ActionStatusIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "action-status", data)


@post("/api/conferences/{conference_id:int}/actions/confirm")
async def api_confirm_action(request: Request, db: NamedDependency[AsyncSession],
                             registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                             data: JSONBody[ActionConfirmIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "confirm-action", data)


@post("/api/conferences/{conference_id:int}/notes")
async def api_note(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   conference_id: FromPath[int], data: JSONBody[NoteIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "note", data)


@get("/api/conferences/{conference_id:int}/minutes")
async def api_minutes(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      conference_id: FromPath[int]) -> conferences.Minutes:
    return await _minutes(request, db, registry, conference_id)


@get("/api/live/stats")
async def api_live_stats(request: Request) -> dict:
    """This server process's live fan-out (for measurements); coordinators only."""
    require_coordinator(current_actor(request), "read the live statistics")
    return _hub(request).stats()


ROUTES = [
    conference_list, schedule_page, schedule, conference_page, accept_statement, send_apologies, change_page,
    minutes_page, minutes_html, minutes_markdown, conference_live,
    api_list, api_schedule, api_state, api_invite, api_accept_statement, api_start, api_move, api_reorder, api_end,
    api_assign_role, api_volunteer, api_confirm_role, api_add_action, api_action_status, api_confirm_action,
    api_note, api_minutes, api_live_stats,
]
