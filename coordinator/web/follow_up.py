"""Between meetings: her views and wishes, the safety plan and follow-up contacts, as pages and
their API twins.

Every plan and note shown goes through the consent gate, and every view that shows them
commits the disclosures the gate wrote."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Annotated

from litestar import Request, Response, get, post, put
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases
from coordinator.errors import Conflict, Invalid
from coordinator.lifecycle import follow_ups, safety_plans, threat_plans, views_and_wishes
from coordinator.lifecycle.follow_ups import FollowUpIn, NewTaskIn, OutcomeIn
from coordinator.lifecycle.safety_plans import SafetyPlanIn
from coordinator.lifecycle.views_and_wishes import ViewsIn
from coordinator.limits import OneOf
from coordinator.plugins import CORE_CATEGORIES, AgencyRegistry
from coordinator.policy import Actor
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, ROWS, checked, from_form, optional_date, optional_int, rows_of, text
from coordinator.web.json import follow_up_json, safety_plan_json, views_json
from coordinator.web.sections.follow_up import TASK_ROWS
from coordinator.web.sections.workspace import submit_to_section

__all__ = ["CORE_CATEGORIES", "ROUTES", "item_sections"]  # the core's categories: for the scope forms
STRUCTURED = {safety_plans.CATEGORY: safety_plans.plan_sections, follow_ups.CATEGORY: follow_ups.note_sections,
              threat_plans.CONTACT_CATEGORY: threat_plans.contact_sections,
              views_and_wishes.CATEGORY: views_and_wishes.parts}


def item_sections(category: str, text: str | None) -> list[tuple[str, str]] | None:
    """An item kept in named parts (a safety plan, a follow-up's notes) as (heading, text) pairs,
    or None for an item of free text: every template shows items through one macro that asks this."""
    sections = STRUCTURED.get(category)
    return sections(text) if sections else None


# --- the case page's sections --------------------------------------------------------------

def _required_date(form: FormMultiDict, name: str, what: str):  # noqa: ANN202
    day = optional_date(form, name)
    if day is None:
        raise Invalid(f"enter {what}", field=name)
    return day


@dataclass
class FollowUpForm(FollowUpIn):
    """The form asks "is it safe to call?" as yes or no, and wants an answer."""

    planned_on: Annotated[dt.date, Meta(description="enter the date of the contact")]
    safe_to_call: OneOf(("yes", "no"), "say whether it is safe to call")


def follow_up_from_form(form: FormMultiDict) -> FollowUpIn:
    read = from_form(FollowUpForm, form)
    return checked(FollowUpIn(**{**asdict(read), "safe_to_call": read.safe_to_call == "yes"}))


def outcome_from_form(form: FormMultiDict) -> OutcomeIn:
    if optional_int(form, "version") is None:
        raise Invalid("the form lost the follow-up's version: reload the page", field="version")
    new_tasks = [NewTaskIn(agency=text(form, f"task_agency_{row}"), title=text(form, f"task_title_{row}"),
                           domain=text(form, f"task_domain_{row}"), due_on=optional_date(form, f"task_due_on_{row}"),
                           referral=text(form, f"task_referral_{row}") == "yes",
                           referral_consent=text(form, f"task_referral_consent_{row}") == "yes")
                 for row in range(TASK_ROWS) if text(form, f"task_title_{row}")]
    return from_form(OutcomeIn, form, tasks=new_tasks,
                     attempted_on=_required_date(form, "attempted_on", "the date of the attempt"))


# The revised plan's new tasks are rows of the outcome's form (``task_title_0``, …).
OUTCOME_ROWS = {"tasks": rows_of(NewTaskIn, "task_{field}_[0-9]+")}


@post("/cases/{case_id:int}/safety-plan", opt={FORM: SafetyPlanIn})
async def write_plan_page(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> Template | Redirect:
    async def change(form: FormMultiDict, actor: Actor) -> int:
        await safety_plans.write_plan(db, registry, actor, case_id, from_form(SafetyPlanIn, form))
        return case_id

    return await submit_to_section(request, db, case_id, section="safety-plan", form_id="safety-plan", change=change)


@post("/cases/{case_id:int}/views-and-wishes", opt={FORM: ViewsIn})
async def record_views_page(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> Template | Redirect:
    async def change(form: FormMultiDict, actor: Actor) -> int:
        await views_and_wishes.record(db, registry, actor, case_id, from_form(ViewsIn, form))
        return case_id

    return await submit_to_section(request, db, case_id, section="views-and-wishes", form_id="views-and-wishes",
                                   change=change)


@post("/cases/{case_id:int}/follow-ups", opt={FORM: FollowUpForm})
async def plan_follow_up_page(request: Request, db: NamedDependency[AsyncSession],
                              registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> Template | Redirect:
    async def change(form: FormMultiDict, actor: Actor) -> int:
        await follow_ups.plan_follow_up(db, registry, actor, case_id, follow_up_from_form(form))
        return case_id

    return await submit_to_section(request, db, case_id, section="follow-ups", form_id="plan-follow-up", change=change)


@post("/follow-ups/{follow_up_id:int}/outcome", opt={FORM: OutcomeIn, ROWS: OUTCOME_ROWS})
async def record_outcome_page(request: Request, db: NamedDependency[AsyncSession],
                              registry: NamedDependency[AgencyRegistry],
                              follow_up_id: FromPath[int]) -> Template | Redirect:
    case_id = (await follow_ups.follow_up_for(db, current_actor(request), follow_up_id)).case_id

    async def change(form: FormMultiDict, actor: Actor) -> int:
        await follow_ups.record_outcome(db, registry, actor, follow_up_id, outcome_from_form(form))
        return case_id

    return await submit_to_section(request, db, case_id, section="follow-ups", form_id=f"outcome-{follow_up_id}",
                                   change=change)


# --- JSON API ------------------------------------------------------------------------------

def _conflict(error: Conflict, current: object) -> Response:
    """A 409 carries the refused thing's current state, as the gate lets the viewer see it."""
    body = {"status_code": error.status, "detail": error.message, "field": error.field, "extra": {"current": current}}
    return Response(body, status_code=error.status)


async def _plan_state(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int) -> dict:
    case = await cases.case_for(db, actor, case_id)
    holder = await safety_plans.holder(db, case.id)
    plan = await safety_plans.current_plan(db, registry, actor, case, channel="api")
    await db.commit()
    return {"case_id": case.id, "holder": holder, "holder_name": registry.name(holder) if holder else None,
            "current": safety_plan_json(plan, registry) if plan else None}


@get("/api/cases/{case_id:int}/safety-plan")
async def get_safety_plan(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> dict:
    return await _plan_state(db, registry, current_actor(request), case_id)


@put("/api/cases/{case_id:int}/safety-plan")
async def write_safety_plan(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                            data: JSONBody[SafetyPlanIn]) -> Response:
    actor = current_actor(request)
    try:
        await safety_plans.write_plan(db, registry, actor, case_id, data)
    except Conflict as error:
        await db.rollback()
        return _conflict(error, await _plan_state(db, registry, actor, case_id))
    await db.commit()
    return Response(await _plan_state(db, registry, actor, case_id), status_code=200)


@get("/api/cases/{case_id:int}/safety-plan/history")
async def safety_plan_history(request: Request, db: NamedDependency[AsyncSession],
                              registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> list[dict]:
    views = await safety_plans.plan_history(db, registry, current_actor(request), case_id, channel="api")
    await db.commit()
    return [safety_plan_json(v, registry) for v in views]


async def _views_state(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int) -> dict:
    case = await cases.case_for(db, actor, case_id)
    state = await views_and_wishes.current_views(db, registry, actor, case, channel="api")
    await db.commit()
    holder = state.holder
    return {"case_id": case.id, "holder": holder.agency if holder else None,
            "holder_name": registry.name(holder.agency) if holder else None,
            "not_yet_asked": state.current is None,
            "current": views_json(state.current, registry) if state.current else None}


@get("/api/cases/{case_id:int}/views-and-wishes")
async def get_views(request: Request, db: NamedDependency[AsyncSession],
                    registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> dict:
    return await _views_state(db, registry, current_actor(request), case_id)


@put("/api/cases/{case_id:int}/views-and-wishes")
async def record_views(request: Request, db: NamedDependency[AsyncSession],
                       registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                       data: JSONBody[ViewsIn]) -> Response:
    actor = current_actor(request)
    try:
        await views_and_wishes.record(db, registry, actor, case_id, data)
    except Conflict as error:
        await db.rollback()
        return _conflict(error, await _views_state(db, registry, actor, case_id))
    await db.commit()
    return Response(await _views_state(db, registry, actor, case_id), status_code=200)


@get("/api/cases/{case_id:int}/views-and-wishes/history")
async def views_history(request: Request, db: NamedDependency[AsyncSession],
                        registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> list[dict]:
    views = await views_and_wishes.history(db, registry, current_actor(request), case_id, channel="api")
    await db.commit()
    return [views_json(v, registry) for v in views]


@get("/api/cases/{case_id:int}/follow-ups")
async def list_follow_ups(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> dict:
    views = await follow_ups.case_follow_ups(db, registry, current_actor(request), case_id, channel="api")
    await db.commit()
    return {"not_reached_days": follow_ups.not_reached_days(v.row for v in views),
            "follow_ups": [follow_up_json(v, registry) for v in reversed(views)]}  # by planned date


async def _follow_up_json(db: AsyncSession, registry: AgencyRegistry, actor: Actor, follow_up_id: int) -> dict:
    view = await follow_ups.follow_up_view(db, registry, actor, follow_up_id, channel="api")
    await db.commit()
    return follow_up_json(view, registry)


@post("/api/cases/{case_id:int}/follow-ups")
async def plan_follow_up(request: Request, db: NamedDependency[AsyncSession],
                         registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                         data: JSONBody[FollowUpIn]) -> dict:
    actor = current_actor(request)
    follow_up = await follow_ups.plan_follow_up(db, registry, actor, case_id, data)
    await db.commit()
    return await _follow_up_json(db, registry, actor, follow_up.id)


@post("/api/follow-ups/{follow_up_id:int}/outcome", status_code=200)
async def record_outcome(request: Request, db: NamedDependency[AsyncSession],
                         registry: NamedDependency[AgencyRegistry], follow_up_id: FromPath[int],
                         data: JSONBody[OutcomeIn]) -> Response:
    actor = current_actor(request)
    try:
        await follow_ups.record_outcome(db, registry, actor, follow_up_id, data)
    except Conflict as error:
        await db.rollback()
        return _conflict(error, await _follow_up_json(db, registry, actor, follow_up_id))
    await db.commit()
    return Response(await _follow_up_json(db, registry, actor, follow_up_id), status_code=200)


ROUTES: list = [write_plan_page, plan_follow_up_page, record_outcome_page, get_safety_plan, write_safety_plan,
                safety_plan_history, record_views_page, get_views, record_views, views_history, list_follow_ups,
                plan_follow_up, record_outcome]
