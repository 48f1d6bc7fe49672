"""Server-rendered pages: the dashboard, a case, the referral form, task changes."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases, equality, overrides, policy, tasks
from coordinator.case_links import DuplicatesUndecided
from coordinator.errors import DomainError, Invalid
from coordinator.lifecycle import case_events, closure, referral_form
from coordinator.models import utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import Settings
from coordinator.web import referrals
from coordinator.web.api import AgencyIn, TaskStatusIn
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, checked, optional_int, referral_from_form, task_from_form, text
from coordinator.web.sections.workspace import section_url, submit_to_section


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@get("/", name="dashboard")
async def dashboard(request: Request, db: NamedDependency[AsyncSession], stage: FromQuery[str | None] = None) -> Template:
    """Each person's reminders and queues: their agency's due and overdue work by case; for those
    who coordinate, every agency's overdue work and the cases waiting to be heard; for a
    supervisor, the overrides awaiting a decision. ``stage`` filters the cases."""
    actor = current_actor(request)
    can = policy.Permissions(actor)
    today = utcnow().date()
    visible = await cases.visible_cases(db, actor)
    return Template("dashboard.html", context={
        "cases": [c for c in visible if stage in (None, "", c.stage)], "stage": stage or "",
        "due": await tasks.due_work(db, today, agency=actor.agency) if actor.agency else [],
        "overdue": await tasks.due_work(db, today, overdue_only=True) if can.coordinate else [],
        "queue": await case_events.hearing_queue(db) if can.coordinate else {},
        "references": {c.id: c.reference for c in visible},
        "awaiting": await overrides.awaiting_decision(db) if can.decide_overrides else [],
        "closures": await closure.awaiting_decision(db) if can.decide_overrides else [],
        "today": today, "can": can, **await referrals.dashboard_context(db, actor),
    })


def _case_form(actor: Actor, form_values: dict, error: DomainError | None = None, status: int = 200,
               candidates: list | None = None) -> Template:
    kinds = {key: name for key, name in cases.CASE_KINDS.items() if policy.may_open_kind(actor, key)}
    return Template("case_form.html", status_code=status,
                    context={"values": form_values, "error": error, "kinds": kinds, "candidates": candidates or [],
                             "CHECKLIST": referral_form.CHECKLIST, "ANSWERS": referral_form.ANSWERS,
                             "ANSWER_LABELS": referral_form.ANSWER_LABELS, "YES_NO": referral_form.YES_NO,
                             "EQUALITY": equality.QUESTIONS, "EQUALITY_LABELS": equality.LABELS})


@get("/cases/new")
async def new_case_page(request: Request) -> Template:
    actor = current_actor(request)
    policy.require_report_taker(actor)
    return _case_form(actor, {"kind": "domestic_abuse" if policy.coordinates(actor) else "threat_assessment"})


@post("/cases")
async def create_case_page(
    request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    form = await request.form()
    try:
        referral = referral_from_form(form)
        case = await cases.create_case(db, registry, settings.referral, current_actor(request), referral, utcnow().date(),
                                      settings.threat_screening_due)
    except (Invalid, DuplicatesUndecided) as error:
        await db.rollback()
        values = {key: form.get(key) for key in form}
        values["agencies"] = form.getall("agencies") if "agencies" in form else []
        if isinstance(error, DuplicatesUndecided):  # the same form again, asking about each possible earlier case
            return _case_form(current_actor(request), values, error, status=409, candidates=error.extra["candidates"])
        return _case_form(current_actor(request), values, error, status=400)
    await db.commit()
    return Redirect(f"/cases/{case.id}", status_code=303)


@post("/cases/{case_id:int}/agencies", opt={FORM: AgencyIn})
async def add_agency_page(
    request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
    case_id: FromPath[int],
) -> Response:
    return await submit_to_section(request, db, case_id, section="tasks", form_id="add-agency", change=lambda form, actor: (
        cases.add_agency(db, registry, actor, case_id, checked(AgencyIn(text(form, "agency"))).agency)))


@post("/cases/{case_id:int}/tasks", opt={FORM: tasks.TaskIn})
async def assign_task_page(
    request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
    case_id: FromPath[int],
) -> Response:
    return await submit_to_section(request, db, case_id, section="tasks", form_id="assign", change=lambda form, actor: (
        tasks.give_task(db, registry, actor, case_id, task_from_form(form))))


@post("/tasks/{task_id:int}/status", opt={FORM: TaskStatusIn})
async def change_task_page(
    request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
    task_id: FromPath[int],
) -> Template | Redirect:
    """From htmx: answer with the task's row, updated or with the error beside it; from a plain
    form: back to the case."""
    form = await request.form()
    actor = current_actor(request)
    try:
        version = optional_int(form, "version")
        if version is None:
            raise Invalid("the form lost the task's version: reload the page", field="version")
        change = checked(TaskStatusIn(status=text(form, "status"), version=version, reason=text(form, "reason")))
        task = await tasks.change_status(db, registry, actor, task_id, status=change.status,
                                         version=change.version, reason=change.reason)
        await db.commit()
        error, status = None, 200
    except DomainError as exc:
        await db.rollback()
        if not is_htmx(request) or exc.status != 409:
            raise  # an error answer renders the error only; a 409 shows the task as it now stands
        task = await tasks.task_for(db, actor, task_id)
        error, status = exc, exc.status
    if not is_htmx(request):
        return Redirect(f"{section_url(task.case_id, 'tasks')}#task-{task.id}", status_code=303)
    return Template("_task.html", status_code=status, context={
        "task": task, "today": utcnow().date(), "error": error,
        "can_change": policy.may_change_task(actor, await cases.case_state(db, task.case_id), task.agency),
    })
