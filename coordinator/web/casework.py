"""A case between meetings: edits, risk reassessment, stages, the role map and recorded events,
as page forms (redirecting back to the case) and their JSON twins."""

from __future__ import annotations

from litestar import Request, get, patch, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases
from coordinator.conference import roles
from coordinator.conference.roles import CaseRoleIn
from coordinator.lifecycle import case_changes, case_events
from coordinator.lifecycle.case_changes import CaseEditIn, ReassessmentIn, StageIn
from coordinator.lifecycle.case_events import PrecipitatingEventIn
from coordinator.models import utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import Settings
from coordinator.web.auth import current_actor
from coordinator.web.forms import (
    FORM,
    KEY_DATE_FORM_ROWS,
    PEOPLE_ROWS,
    ROWS,
    checked,
    from_form,
    key_dates_from_form,
    optional_int,
    people_from_form,
    text,
    threat_people_from_form,
)
from coordinator.web.json import case_json, event_json, revision_json, role_json
from coordinator.web.sections.workspace import submit_to_section

# --- services, shared by the page forms and the API --------------------------------------------

async def _edit(db: AsyncSession, registry: AgencyRegistry, request: Request, case_id: int, data: CaseEditIn) -> None:
    await case_changes.edit_case(db, registry, current_actor(request), case_id, data)
    await db.commit()


async def _reassess(db: AsyncSession, registry: AgencyRegistry, settings: Settings, request: Request, case_id: int,
                    data: ReassessmentIn) -> None:
    await case_changes.reassess_risk(db, registry, settings.referral, current_actor(request), case_id, data,
                                     utcnow().date())
    await db.commit()


async def _move(db: AsyncSession, request: Request, case_id: int, data: StageIn) -> None:
    await case_changes.move_stage(db, current_actor(request), case_id, data)
    await db.commit()


async def _give_role(db: AsyncSession, registry: AgencyRegistry, request: Request, case_id: int,
                     data: CaseRoleIn) -> None:
    await roles.assign_case_role(db, registry, current_actor(request), case_id, data)
    await db.commit()


async def _record_event(db: AsyncSession, registry: AgencyRegistry, request: Request, case_id: int,
                        data: PrecipitatingEventIn):  # noqa: ANN202
    raised = await case_events.record_precipitating_event(db, registry, current_actor(request), case_id, data,
                                                          utcnow().date())
    await db.commit()
    return raised


# --- pages: each through the workspace's one submit loop, back to its section -----------------------

def _edit_from_form(form: FormMultiDict, kind: str) -> CaseEditIn:
    """Each kind of case has its own edit form: a threat assessment's names no survivor (its kind
    only picks the parser; whether the actor may edit is decided by the edit itself)."""
    common = {"version": optional_int(form, "version") or 0, "reason": text(form, "reason")}
    if kind == case_changes.THREAT_ASSESSMENT:
        return checked(CaseEditIn(**common, people=threat_people_from_form(form), concern=text(form, "concern"),
                                  team=form.getall("team") if "team" in form else None))
    return checked(CaseEditIn(
        **common, summary=text(form, "summary"), people=people_from_form(form),
        key_dates=key_dates_from_form(form), caseworker_id=optional_int(form, "caseworker_id")))


@post("/cases/{case_id:int}/edit", opt={FORM: CaseEditIn, ROWS: {"people": PEOPLE_ROWS, "key_dates": KEY_DATE_FORM_ROWS}})
async def edit_case_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                         case_id: FromPath[int]) -> Response:
    async def edit(form: FormMultiDict, actor: Actor) -> None:
        kind = (await cases.load_case(db, case_id)).kind
        await case_changes.edit_case(db, registry, actor, case_id, _edit_from_form(form, kind))

    return await submit_to_section(request, db, case_id, section="stage", form_id="edit", change=edit)


@post("/cases/{case_id:int}/risk", opt={FORM: ReassessmentIn})
async def reassess_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        settings: NamedDependency[Settings], case_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="stage", form_id="risk", change=lambda form, actor: (
        case_changes.reassess_risk(db, registry, settings.referral, actor, case_id, from_form(ReassessmentIn, form),
                                   utcnow().date())))


@post("/cases/{case_id:int}/stage", opt={FORM: StageIn})
async def stage_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="stage", form_id="stage", change=lambda form, actor: (
        case_changes.move_stage(db, actor, case_id, from_form(StageIn, form))))


@post("/cases/{case_id:int}/roles", opt={FORM: CaseRoleIn})
async def role_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                    case_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="role-map", form_id="role", change=lambda form, actor: (
        roles.assign_case_role(db, registry, actor, case_id, from_form(CaseRoleIn, form))))


@post("/cases/{case_id:int}/events", opt={FORM: PrecipitatingEventIn})
async def event_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     case_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="events", form_id="event", change=lambda form, actor: (
        case_events.record_precipitating_event(db, registry, actor, case_id, from_form(PrecipitatingEventIn, form),
                                               utcnow().date())))


# --- the JSON twins --------------------------------------------------------------------------------

@patch("/api/cases/{case_id:int}")
async def edit_case(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                    case_id: FromPath[int], data: JSONBody[CaseEditIn]) -> dict:
    await _edit(db, registry, request, case_id, data)
    return case_json(await cases.load_case(db, case_id), registry)


@post("/api/cases/{case_id:int}/risk")
async def reassess(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   settings: NamedDependency[Settings], case_id: FromPath[int], data: JSONBody[ReassessmentIn]) -> dict:
    await _reassess(db, registry, settings, request, case_id, data)
    return case_json(await cases.load_case(db, case_id), registry)


@post("/api/cases/{case_id:int}/stage")
async def move_stage(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     case_id: FromPath[int], data: JSONBody[StageIn]) -> dict:
    await _move(db, request, case_id, data)
    return case_json(await cases.load_case(db, case_id), registry)


@post("/api/cases/{case_id:int}/roles")
async def give_role(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                    case_id: FromPath[int], data: JSONBody[CaseRoleIn]) -> list[dict]:
    await _give_role(db, registry, request, case_id, data)
    return [role_json(r, registry) for r in await roles.case_roles(db, case_id)]


@get("/api/cases/{case_id:int}/roles")
async def list_roles(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     case_id: FromPath[int]) -> list[dict]:
    case = await cases.case_for(db, current_actor(request), case_id)
    return [role_json(r, registry) for r in await roles.case_roles(db, case.id)]


@post("/api/cases/{case_id:int}/events")
async def record_event(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       case_id: FromPath[int], data: JSONBody[PrecipitatingEventIn]) -> dict:
    return event_json(await _record_event(db, registry, request, case_id, data))


@get("/api/cases/{case_id:int}/history")
async def case_history(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> dict:
    case = await cases.case_for(db, current_actor(request), case_id)
    return {"revisions": [revision_json(r) for r in await case_changes.history(db, case.id)],
            "events": [event_json(e) for e in await case_events.case_events(db, case.id)]}


PAGES = [edit_case_page, reassess_page, stage_page, role_page, event_page]
API = [edit_case, reassess, move_stage, give_role, list_roles, record_event, case_history]
