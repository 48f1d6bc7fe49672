"""The live conference over HTTP: scheduling, the statement, the live page and its changes (HTML
forms and the JSON API alike), and the minutes. The websocket is in ``web.live.socket``.

Every change: parse, call one service, commit (its events reach every open page once
committed). An error answer renders the error; only a 409 adds the current state of what was
refused, through the same gated pipeline as any view, so the loser sees what won.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from litestar import Request, Response, delete, get, post, put
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import minutes_files, policy
from coordinator.conference import actions, meeting, minutes, participation, research, roles, schedule
from coordinator.conference.participation import CONFIDENTIALITY_STATEMENT, InviteIn
from coordinator.conference.schedule import ConferenceIn, JoiningIn
from coordinator.conference.state import ASPECTS, EVERYTHING, load_people
from coordinator.errors import Conflict, DomainError, Invalid, NotFound
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor, StatementNeeded
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, checked, from_form, optional_int, text
from coordinator.web.json import conference_view_json
from coordinator.web.live.render import ConferenceView, conference_view, render_fragments


@dataclass(frozen=True)
class Operation:
    """One kind of change made during the meeting: its input and its service, which share one
    signature ``(session, registry, actor, conference_id, data)``. ``shows`` is the part of the
    page to send back, current, with the answer."""

    data: type
    run: Callable[..., Awaitable[None]]
    shows: frozenset[str]


OPERATIONS = {
    "start": Operation(meeting.VersionIn, meeting.start_conference, EVERYTHING),
    "move": Operation(meeting.MoveIn, meeting.move_to_case, EVERYTHING),
    "agenda": Operation(meeting.AgendaOrderIn, meeting.reorder_agenda, frozenset({"agenda", "status"})),
    "end": Operation(meeting.VersionIn, meeting.end_conference, EVERYTHING),
    "assign-role": Operation(roles.RoleIn, roles.assign_role, frozenset({"roles"})),
    "volunteer": Operation(roles.RoleSlotIn, roles.volunteer_for_role, frozenset({"roles"})),
    "confirm-role": Operation(roles.RoleSlotIn, roles.confirm_role, frozenset({"roles"})),
    "add-action": Operation(actions.ActionIn, actions.add_action, frozenset({"actions"})),
    "action-status": Operation(actions.ActionStatusIn, actions.change_action, frozenset({"actions"})),
    "confirm-action": Operation(actions.ActionConfirmIn, actions.confirm_action, frozenset({"actions"})),
    "note": Operation(meeting.NoteIn, meeting.add_note, frozenset({"notes"})),
    "correct-note": Operation(meeting.NoteCorrectionIn, meeting.correct_note, frozenset({"notes"})),
    "remove-participant": Operation(participation.RemoveIn, participation.remove_participant,
                                    frozenset({"presence"})),
}


async def _seen_by(db: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                   aspects: frozenset[str], *, items: bool) -> ConferenceView:
    """The conference as the actor's audience sees it (the actor must be admitted). With
    ``items``, the current case's items through the gate, their disclosure committed; without,
    none are read, as the answer will not show them."""
    place = await participation.seat(db, actor, conference_id)
    view = await conference_view(db, registry, conference_id, place.audience, [actor] if items else [], aspects)
    await db.commit()
    return view


ORGANISING_ASPECTS = frozenset({"status", "agenda", "presence"})


async def _answer(db: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                  aspects: frozenset[str], *, items: bool) -> ConferenceView:
    """The answer to a change: as the actor's audience sees it; an organiser who has not joined
    the meeting (no statement accepted) sees only what organising needs, never a case."""
    try:
        return await _seen_by(db, registry, actor, conference_id, aspects, items=items)
    except (StatementNeeded, NotFound):
        participant = await participation.participant_of(db, conference_id, actor.id)
        if not policy.may_organise(actor, participant):
            raise
    return await conference_view(db, registry, conference_id, policy.Audience(actor.agency, "chair"), [],
                                 aspects & ORGANISING_ASPECTS)


async def _current_after_conflict(db: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                                  aspects: frozenset[str], *, items: bool) -> ConferenceView | None:
    """What won, for someone whose change lost to another (409); None if they may not see it."""
    await db.rollback()
    try:
        return await _answer(db, registry, actor, conference_id, aspects, items=items)
    except DomainError:
        await db.rollback()
        return None


# --- pages -----------------------------------------------------------------------------------

@get("/conferences")
async def conference_list(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    """The actor's conferences: a page of its own, or the list alone when the dashboard loads it into itself."""
    actor = current_actor(request)
    page = "conferences/_list.html" if request.headers.get("hx-request") else "conferences/index.html"
    return Template(page, context={
        "listed": await schedule.conferences_for(db, actor), "actor": actor, "can": policy.Permissions(actor)})


@get("/conferences/new")
async def schedule_page(request: Request, db: NamedDependency[AsyncSession],
                        registry: NamedDependency[AgencyRegistry]) -> Template:
    choices = await schedule.scheduling_choices(db, registry, current_actor(request))
    return Template("conferences/schedule.html", context={"choices": choices, "values": {}, "error": None})


def _ids(form: FormMultiDict, name: str) -> list[int]:
    try:
        return [int(v) for v in form.getall(name)] if name in form else []
    except ValueError:
        raise Invalid("the form named something that is not a number: reload the page", field=name) from None


def _schedule_from_form(form: FormMultiDict, zone: dt.tzinfo) -> ConferenceIn:
    raw_when = text(form, "scheduled_at")
    try:  # typed in the deployment's local time, as the form says
        when = dt.datetime.fromisoformat(raw_when).replace(tzinfo=zone).astimezone(dt.UTC)
    except ValueError:
        raise Invalid("enter a date and time", field="scheduled_at") from None
    chair_id = optional_int(form, "chair_id")
    if chair_id is None:
        raise Invalid("choose the chair", field="chair_id")
    return checked(ConferenceIn(
        title=text(form, "title"), scheduled_at=when, chair_id=chair_id, case_ids=_ids(form, "case_ids"),
        participants=[InviteIn(user_id, text(form, f"role_{user_id}") or "representative")
                      for user_id in _ids(form, "invite")],
        joining=_joining(form), took_place=text(form, "took_place") == "yes"))


def _joining(form: FormMultiDict) -> list[JoiningIn]:
    """The agencies ticked per case: each tick is "<case id>:<agency key>"."""
    joining = []
    for tick in form.getall("joining") if "joining" in form else []:
        case_id, _, agency = tick.partition(":")
        if not case_id.isdigit():
            raise Invalid("the form named a case that is not a number: reload the page", field="joining")
        joining.append(JoiningIn(int(case_id), agency))
    return joining


@post("/conferences")
async def schedule_conference(request: Request, db: NamedDependency[AsyncSession],
                              registry: NamedDependency[AgencyRegistry]) -> Template | Redirect:
    form = await request.form()
    actor = current_actor(request)
    try:
        settings = request.app.state.settings
        conference = await schedule.schedule_conference(
            db, registry, actor, _schedule_from_form(form, settings.zone), research_days=settings.research_days)
    except (Invalid, Conflict) as error:  # a conflict: a ground ticked ended meanwhile
        await db.rollback()
        values = {key: form.get(key) for key in form}
        for listed in ("case_ids", "invite", "joining"):
            values[listed] = form.getall(listed) if listed in form else []
        return Template("conferences/schedule.html", status_code=error.status, context={
            "choices": await schedule.scheduling_choices(db, registry, actor), "values": values, "error": error})
    await db.commit()
    return Redirect(f"/conferences/{conference.id}", status_code=303)


@get("/conferences/{conference_id:int}")
async def conference_page(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int]) -> Template:
    """The live page; until the participant accepts the confidentiality statement, the statement.
    The case's information items come by websocket only, so opening the page discloses them once."""
    actor = current_actor(request)
    try:
        place = await participation.seat(db, actor, conference_id)
    except StatementNeeded:
        conference = await participation.load_conference(db, conference_id)
        colleagues = (await load_people(db, [actor.agency])).get(actor.agency, []) if actor.agency else []
        return Template("conferences/statement.html", context={
            "conference": conference, "statement": CONFIDENTIALITY_STATEMENT, "colleagues": colleagues,
            "actor": actor})
    view = await conference_view(db, registry, conference_id, place.audience, [], ASPECTS)
    settings = request.app.state.settings
    return Template("conferences/live.html", context={
        "view": view, "conference": view.conference,
        "session_idle": settings.idle_seconds, "session_warning": settings.session_warning_seconds})


@post("/conferences/{conference_id:int}/statement")
async def accept_statement(request: Request, db: NamedDependency[AsyncSession],
                           conference_id: FromPath[int]) -> Redirect:
    await participation.accept_statement(db, current_actor(request), conference_id)
    await db.commit()
    return Redirect(f"/conferences/{conference_id}", status_code=303)


@post("/conferences/{conference_id:int}/apologies")
async def send_apologies(request: Request, db: NamedDependency[AsyncSession], conference_id: FromPath[int]) -> Redirect:
    form = await request.form()
    await research.send_apologies(db, current_actor(request), conference_id,
                                  checked(research.ApologiesIn(optional_int(form, "actions_person_id"))))
    await db.commit()
    return Redirect("/", status_code=303)


@post("/api/conferences/{conference_id:int}/apologies", status_code=200)
async def api_send_apologies(request: Request, db: NamedDependency[AsyncSession], conference_id: FromPath[int],
                             data: JSONBody[research.ApologiesIn]) -> dict:
    """The requester will not attend; their agency's research and named person stand in."""
    await research.send_apologies(db, current_actor(request), conference_id, data)
    await db.commit()
    return {"apology": True, "actions_person_id": data.actions_person_id}


async def _change_from_page(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int,
                            op: Operation) -> Response | Redirect:
    """A change from the live page. htmx gets the notice area back: empty, or the error (with,
    for a 409 only, the current state of what was refused); the change itself reaches every
    page by websocket."""
    actor = current_actor(request)
    env = request.app.state.live.env
    htmx = request.headers.get("hx-request") == "true"
    try:
        await op.run(db, registry, actor, conference_id, from_form(op.data, await request.form()))
        await db.commit()
    except DomainError as error:
        await db.rollback()
        if not htmx:
            raise
        body = env.get_template("conferences/_notice.html").render(error=error)
        if isinstance(error, Conflict):
            current = await _current_after_conflict(db, registry, actor, conference_id, op.shows, items=True)
            if current is not None:
                body += render_fragments(env, current, op.shows)
        return Response(body, status_code=error.status, media_type="text/html")
    if not htmx:
        return Redirect(f"/conferences/{conference_id}", status_code=303)
    return Response(env.get_template("conferences/_notice.html").render(error=None), media_type="text/html")


def _change_page(name: str, op: Operation):  # noqa: ANN202 (a route handler)
    """The live page's form for one change, documented as the input it is read into."""
    @post(f"/conferences/{{conference_id:int}}/changes/{name}", status_code=200, opt={FORM: op.data},
          name=f"change-{name}", operation_id=f"Change{name.title().replace('-', '')}")
    async def change_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                          conference_id: FromPath[int]) -> Response | Redirect:
        return await _change_from_page(request, db, registry, conference_id, op)
    return change_page


CHANGE_PAGES = [_change_page(name, op) for name, op in OPERATIONS.items()]


def _attachment(name: str) -> dict[str, str]:
    return {"content-disposition": f'attachment; filename="{name}"'}


async def _minutes(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int):
    result = await minutes.minutes(db, registry, current_actor(request), conference_id)
    await db.commit()  # the disclosures of the items in the minutes
    return result


async def _minutes_file(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int,
                        kind: str) -> Response[bytes]:
    """A copy to file: its digest is recorded in the same transaction as the disclosures it
    makes, so every file that left the server can be checked against the audit chain."""
    actor = current_actor(request)
    record = await minutes.minutes(db, registry, actor, conference_id)
    # Laying out a PDF takes a moment of CPU: off the event loop, so live meetings are not held up.
    file = await asyncio.to_thread(minutes_files.render, request.app.template_engine.engine, record, kind)
    await minutes_files.record_generated(db, actor, record, kind, file)
    await db.commit()
    return Response(file.content, media_type=file.media_type, headers=_attachment(file.name))


@get("/conferences/{conference_id:int}/minutes")
async def minutes_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       conference_id: FromPath[int]) -> Template:
    return Template("conferences/minutes.html", context={
        "minutes": await _minutes(request, db, registry, conference_id), "standalone": False})


@get("/conferences/{conference_id:int}/minutes.html", media_type=minutes_files.FORMATS["html"].media_type)
async def minutes_html(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       conference_id: FromPath[int]) -> Response[bytes]:
    return await _minutes_file(request, db, registry, conference_id, "html")


@get("/conferences/{conference_id:int}/minutes.md", media_type=minutes_files.FORMATS["md"].media_type)
async def minutes_markdown(request: Request, db: NamedDependency[AsyncSession],
                           registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int]) -> Response[bytes]:
    return await _minutes_file(request, db, registry, conference_id, "md")


@get("/conferences/{conference_id:int}/minutes.pdf", media_type=minutes_files.FORMATS["pdf"].media_type,
     responses={503: ResponseSpec(data_container=str, media_type=MediaType.HTML, generate_examples=False,
                                  description="this server lacks the PDF libraries (the message names them)")})
async def minutes_pdf(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      conference_id: FromPath[int]) -> Response[bytes]:
    """The agency's copy as a PDF: marked, numbered and titled on every page."""
    return await _minutes_file(request, db, registry, conference_id, "pdf")


# --- JSON API -------------------------------------------------------------------------------------

@get("/api/conferences")
async def api_list(request: Request, db: NamedDependency[AsyncSession]) -> list[dict]:
    return [{"id": c.id, "title": c.title, "scheduled_at": c.scheduled_at, "status": c.status,
             "role": p.role if p else None, "statement_accepted": bool(p and p.statement_accepted_at)}
            for c, p in await schedule.conferences_for(db, current_actor(request))]


@post("/api/conferences")
async def api_schedule(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       data: JSONBody[ConferenceIn]) -> dict:
    actor = current_actor(request)
    conference = await schedule.schedule_conference(db, registry, actor, data,
                                                    research_days=request.app.state.settings.research_days)
    await db.commit()
    view = await _answer(db, registry, actor, conference.id, ORGANISING_ASPECTS, items=False)
    return conference_view_json(view, registry)["conference"]


@get("/api/conferences/{conference_id:int}")
async def api_state(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                    conference_id: FromPath[int]) -> dict:
    """The conference as the live page shows it to the requester's audience, with the current
    case's information as the consent gate allows the requester's agency."""
    view = await _seen_by(db, registry, current_actor(request), conference_id, EVERYTHING, items=True)
    return conference_view_json(view, registry)


@post("/api/conferences/{conference_id:int}/participants")
async def api_invite(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     conference_id: FromPath[int], data: JSONBody[InviteIn]) -> dict:
    participant = await participation.invite_participant(db, current_actor(request), conference_id, data)
    await db.commit()
    return {"id": participant.id, "user_id": participant.user_id, "agency": participant.agency,
            "role": participant.role}


@delete("/api/conferences/{conference_id:int}/participants/{participant_id:int}", status_code=200)
async def api_remove_participant(request: Request, db: NamedDependency[AsyncSession],
                                 registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                                 participant_id: FromPath[int]) -> Response:
    """Take someone off the conference; the answer is who is left, as the requester sees it."""
    return await _api_change(request, db, registry, conference_id, "remove-participant",
                             checked(participation.RemoveIn(participant_id)))


@post("/api/conferences/{conference_id:int}/statement", status_code=200)
async def api_accept_statement(request: Request, db: NamedDependency[AsyncSession],
                               conference_id: FromPath[int]) -> dict:
    participant = await participation.accept_statement(db, current_actor(request), conference_id)
    await db.commit()
    return {"statement": CONFIDENTIALITY_STATEMENT, "accepted_at": participant.statement_accepted_at}


async def _api_change(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int,
                      operation: str, data: object) -> Response:
    """Run a change and answer (200: nothing new is created) with the current state of what it touches, as the requester's
    audience sees it; a change refused because of a concurrent one answers 409 with the message
    and that same current state, so the client can show what won."""
    op = OPERATIONS[operation]
    actor = current_actor(request)
    try:
        await op.run(db, registry, actor, conference_id, data)
        await db.commit()
    except Conflict as conflict:
        current = await _current_after_conflict(db, registry, actor, conference_id, op.shows, items=False)
        body = {"status_code": 409, "detail": conflict.message, "field": conflict.field}
        if current is not None:
            body["current"] = conference_view_json(current, registry)["conference"]
        return Response(body, status_code=409)
    view = await _answer(db, registry, actor, conference_id, op.shows, items=False)
    return Response(conference_view_json(view, registry)["conference"], status_code=200)


@post("/api/conferences/{conference_id:int}/start", status_code=200)
async def api_start(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                    conference_id: FromPath[int], data: JSONBody[meeting.VersionIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "start", data)


@post("/api/conferences/{conference_id:int}/move", status_code=200)
async def api_move(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   conference_id: FromPath[int], data: JSONBody[meeting.MoveIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "move", data)


@put("/api/conferences/{conference_id:int}/agenda")
async def api_reorder(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      conference_id: FromPath[int], data: JSONBody[meeting.AgendaOrderIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "agenda", data)


@post("/api/conferences/{conference_id:int}/end", status_code=200)
async def api_end(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                  conference_id: FromPath[int], data: JSONBody[meeting.VersionIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "end", data)


@post("/api/conferences/{conference_id:int}/roles", status_code=200)
async def api_assign_role(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                          data: JSONBody[roles.RoleIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "assign-role", data)


@post("/api/conferences/{conference_id:int}/roles/volunteer", status_code=200)
async def api_volunteer(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        conference_id: FromPath[int], data: JSONBody[roles.RoleSlotIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "volunteer", data)


@post("/api/conferences/{conference_id:int}/roles/confirm", status_code=200)
async def api_confirm_role(request: Request, db: NamedDependency[AsyncSession],
                           registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                           data: JSONBody[roles.RoleSlotIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "confirm-role", data)


@post("/api/conferences/{conference_id:int}/actions", status_code=200)
async def api_add_action(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                         conference_id: FromPath[int], data: JSONBody[actions.ActionIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "add-action", data)


@post("/api/conferences/{conference_id:int}/actions/status", status_code=200)
async def api_action_status(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                            data: JSONBody[actions.ActionStatusIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "action-status", data)


@post("/api/conferences/{conference_id:int}/actions/confirm", status_code=200)
async def api_confirm_action(request: Request, db: NamedDependency[AsyncSession],
                             registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                             data: JSONBody[actions.ActionConfirmIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "confirm-action", data)


@post("/api/conferences/{conference_id:int}/notes", status_code=200)
async def api_note(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   conference_id: FromPath[int], data: JSONBody[meeting.NoteIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "note", data)


@post("/api/conferences/{conference_id:int}/notes/corrections", status_code=200)
async def api_correct_note(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                           conference_id: FromPath[int], data: JSONBody[meeting.NoteCorrectionIn]) -> Response:
    return await _api_change(request, db, registry, conference_id, "correct-note", data)


@get("/api/conferences/{conference_id:int}/minutes")
async def api_minutes(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      conference_id: FromPath[int]) -> minutes.Minutes:
    return await _minutes(request, db, registry, conference_id)


@get("/api/live/stats")
async def api_live_stats(request: Request) -> dict:
    """This server process's live fan-out (for measurements); coordinators only."""
    policy.require_coordinator(current_actor(request), "read the live statistics")
    return request.app.state.live.stats()


ROUTES = [
    conference_list, schedule_page, schedule_conference, conference_page, accept_statement, send_apologies,
    api_send_apologies,
    *CHANGE_PAGES, minutes_page, minutes_html, minutes_markdown, minutes_pdf,
    api_list, api_schedule, api_state, api_invite, api_remove_participant, api_accept_statement, api_start, api_move, api_reorder, api_end,
    api_assign_role, api_volunteer, api_confirm_role, api_add_action, api_action_status, api_confirm_action,
    api_note, api_correct_note, api_minutes, api_live_stats,
]
