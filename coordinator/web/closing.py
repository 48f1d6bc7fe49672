"""Closing and reopening a case and its consent register, as page forms and their JSON twins."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases, consents, disclosures
from coordinator.lifecycle import closure
from coordinator.lifecycle.closure import AgencyReviewIn, ClosureIn, DecisionIn, ReopenIn, TaskReviewIn
from coordinator.limits import Id, Key
from coordinator.models import Closure, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.settings import Settings
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, ROWS, from_form, optional_int, rows_of, text
from coordinator.web.json import case_json, closure_json, consent_json, sign_off_json
from coordinator.web.sections.workspace import submit_to_section


def closure_from_form(form: FormMultiDict) -> ClosureIn:
    """The request and, per open task listed on the form (``task_ids``), its decision."""
    reviews = []
    for raw in form.getall("task_ids") if "task_ids" in form else []:
        task_id = optional_int(FormMultiDict({"task": raw}), "task")
        decision = text(form, f"task_{task_id}_decision")
        if decision:
            reviews.append(TaskReviewIn(task_id=task_id, decision=decision, reason=text(form, f"task_{task_id}_reason"),
                                        agency=text(form, f"task_{task_id}_agency") or None))
    # "Mark all" per agency: applies to that agency's tasks left "still open" above.
    agencies = [AgencyReviewIn(agency=key, decision=text(form, f"agency_{key}_decision"),
                               reason=text(form, f"agency_{key}_reason"))
                for key in (form.getall("review_agencies") if "review_agencies" in form else [])
                if text(form, f"agency_{key}_decision")]
    return from_form(ClosureIn, form, tasks=reviews, agencies=agencies)


CLOSURE_ROWS = {"tasks": {"^task_ids$": Id, **rows_of(TaskReviewIn, "task_[0-9]+_{field}", without=("task_id",))},
                "agencies": {"^review_agencies$": Key, **rows_of(AgencyReviewIn, "agency_[a-z0-9_]+_{field}",
                                                                 without=("agency",))}}


async def _request(db: AsyncSession, registry: AgencyRegistry, request: Request, case_id: int,
                   data: ClosureIn) -> Closure:
    requested = await closure.request_closure(db, registry, current_actor(request), case_id, data, utcnow().date())
    await db.commit()
    return requested


async def _decide(db: AsyncSession, request: Request, case_id: int, closure_id: int, data: DecisionIn) -> Closure:
    decided = await closure.decide_closure(db, current_actor(request), case_id, closure_id, data)
    await db.commit()
    return decided


@post("/cases/{case_id:int}/closure", opt={FORM: ClosureIn, ROWS: CLOSURE_ROWS})
async def request_closure_page(request: Request, db: NamedDependency[AsyncSession],
                               registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="closure", form_id="closure", change=lambda form, actor: (
        closure.request_closure(db, registry, actor, case_id, closure_from_form(form), utcnow().date())))


@post("/cases/{case_id:int}/closures/{closure_id:int}/decision", opt={FORM: DecisionIn})
async def decide_closure_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                              closure_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="closure", form_id="decision", change=lambda form, actor: (
        closure.decide_closure(db, actor, case_id, closure_id, from_form(DecisionIn, form))))


@post("/cases/{case_id:int}/reopen", opt={FORM: ReopenIn})
async def reopen_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      case_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="closure", form_id="reopen", change=lambda form, actor: (
        closure.reopen(db, settings.referral, actor, case_id, from_form(ReopenIn, form), utcnow().date())))


async def _sign_off(db: AsyncSession, registry: AgencyRegistry, request: Request, case_id: int,
                   data: AgencyReviewIn):
    signed = await closure.sign_off(db, registry, current_actor(request), case_id, data)
    await db.commit()
    return signed


@post("/cases/{case_id:int}/sign-offs", opt={FORM: AgencyReviewIn})
async def sign_off_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        case_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="tasks", form_id="sign-off", change=lambda form, actor: (
        closure.sign_off(db, registry, actor, case_id, from_form(AgencyReviewIn, form))))


@post("/api/cases/{case_id:int}/sign-offs")
async def sign_off(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   case_id: FromPath[int], data: JSONBody[AgencyReviewIn]) -> dict:
    """An agency signs off all its open tasks on the case: done, or not applicable with the reason."""
    return sign_off_json(await _sign_off(db, registry, request, case_id, data))


@get("/api/cases/{case_id:int}/sign-offs")
async def list_sign_offs(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> list[dict]:
    case = await cases.case_for(db, current_actor(request), case_id)
    return [sign_off_json(s) for s in await closure.sign_offs(db, case.id)]


@get("/cases/{case_id:int}/consent-register")
async def register_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> Template:
    actor = current_actor(request)
    case, records = await consents.consent_register(db, actor, case_id)
    seen = await disclosures.sightings(db, case.id)
    withdrawals = await consents.withdrawals_by_consent(db, [c.id for c in records])
    await db.commit()  # the register's opening is audited
    return Template("consent_register.html", context={
        "case": case, "consents": records, "seen": seen, "withdrawals": withdrawals, "now": utcnow(),
        "scope_status": consents.scope_status,
        "names": await consents.display_names(db, {c.recorded_by_id for c in records})})


@post("/api/cases/{case_id:int}/closure")
async def request_closure(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                          case_id: FromPath[int], data: JSONBody[ClosureIn]) -> dict:
    return closure_json(await _request(db, registry, request, case_id, data))


@get("/api/cases/{case_id:int}/closures")
async def list_closures(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> list[dict]:
    case = await cases.case_for(db, current_actor(request), case_id)
    return [closure_json(c) for c in await closure.case_closures(db, case.id)]


@post("/api/cases/{case_id:int}/closures/{closure_id:int}/decision")
async def decide_closure(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                         closure_id: FromPath[int], data: JSONBody[DecisionIn]) -> dict:
    return closure_json(await _decide(db, request, case_id, closure_id, data))


@post("/api/cases/{case_id:int}/reopen")
async def reopen(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                 settings: NamedDependency[Settings], case_id: FromPath[int], data: JSONBody[ReopenIn]) -> dict:
    case = await closure.reopen(db, settings.referral, current_actor(request), case_id, data, utcnow().date())
    await db.commit()
    return case_json(case, registry) | {"repeat": closure.is_repeat(case)}


@get("/api/cases/{case_id:int}/consent-register")
async def consent_register(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> dict:
    """Who has her consent, and who has seen her information: a survivor's questions about a closed case."""
    case, records = await consents.consent_register(db, current_actor(request), case_id)
    seen = await disclosures.sightings(db, case.id)
    await db.commit()
    now = utcnow()
    return {"case": case.reference, "consents": [consent_json(c, now) for c in records],
            "seen_by": [{"item_id": entry.item_id, "category": entry.category, "agency": entry.agency,
                         "sightings": [{"viewer_agency": s.viewer_agency, "at": s.at, "basis": s.basis,
                                        "channel": s.channel} for s in entry.sightings]} for entry in seen]}


PAGES = [request_closure_page, decide_closure_page, reopen_page, register_page, sign_off_page]
API = [request_closure, list_closures, decide_closure, reopen, consent_register, sign_off, list_sign_offs]
