"""Threat-assessment cases: the strategy catalogue, the case-management plan, the monitoring status and
the contact log, as page forms (back to the case) and their JSON twins.

The contact log is read through the consent gate on every path, and every view that shows it
commits the disclosures the gate wrote."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator.lifecycle import screenings, strategies, team_roles, team_sharing, threat_plans
from coordinator.lifecycle.screenings import ScreeningDecisionIn, ScreeningIn
from coordinator.lifecycle.team_roles import TeamRoleIn
from coordinator.lifecycle.team_sharing import TeamBasisIn
from coordinator.lifecycle.threat_plans import ContactIn, KeepReasonIn, MonitoringIn, MonitoringReviewIn, PlanItemIn
from coordinator.models import Case, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import Settings
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, checked, from_form, optional_date, optional_int, text
from coordinator.web.json import case_json, contact_json, entry_json, plan_json, screening_json, team_member_json
from coordinator.web.sections.workspace import submit_to_section

__all__ = ["API", "PAGES"]



# --- the case page's sections --------------------------------------------------------------------

# --- pages --------------------------------------------------------------------------------------------

def plan_item_from_form(form: FormMultiDict) -> PlanItemIn:
    """The catalogue form's choice is ``strategy`` as "key" or "key|detail"."""
    key, _, detail = text(form, "strategy").partition("|")
    return checked(PlanItemIn(strategy=key, agency=text(form, "agency"), detail=detail or None,
                              assignee_id=optional_int(form, "assignee_id"), due_on=optional_date(form, "due_on"),
                              review_on=optional_date(form, "review_on"),
                              keep_reason=text(form, "keep_reason") or None))


def _page(path: str, form_id: str, change, form: type | None = None):  # noqa: ANN001, ANN202
    """A form post on a case: the change runs and is committed, or the case page comes back with the
    message beside the form (the follow-up forms' way, shared). ``form``: the dataclass the form is
    read into, where it is one."""

    @post(path, name=f"threat_{form_id.replace('-', '_')}_page", opt={FORM: form} if form else {})
    async def handler(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      case_id: FromPath[int]) -> Template | Redirect:
        async def run(form: FormMultiDict, actor: Actor) -> int:
            await change(db, registry, actor, case_id, form, utcnow().date())
            return case_id

        return await submit_to_section(request, db, case_id, section="threat-plan", form_id=form_id, change=run)

    return handler


async def _add_item(db, registry, actor, case_id, form, today):  # noqa: ANN001, ANN202
    await threat_plans.add_plan_item(db, registry, actor, case_id, plan_item_from_form(form), today)


async def _keep(db, registry, actor, case_id, form, today):  # noqa: ANN001, ANN202
    await threat_plans.keep_separation(db, registry, actor, case_id, from_form(KeepReasonIn, form))


async def _monitoring(db, registry, actor, case_id, form, today):  # noqa: ANN001, ANN202
    await threat_plans.set_monitoring(db, actor, case_id, from_form(MonitoringIn, form), today)


async def _review(db, registry, actor, case_id, form, today):  # noqa: ANN001, ANN202
    await threat_plans.record_monitoring_review(db, actor, case_id, from_form(MonitoringReviewIn, form), today)


async def _contact(db, registry, actor, case_id, form, today):  # noqa: ANN001, ANN202
    await threat_plans.record_contact(db, registry, actor, case_id, from_form(ContactIn, form), today)


add_plan_item_page = _page("/cases/{case_id:int}/plan", "plan-item", _add_item)
keep_separation_page = _page("/cases/{case_id:int}/plan/keep", "plan-keep", _keep, KeepReasonIn)
monitoring_page = _page("/cases/{case_id:int}/monitoring", "monitoring", _monitoring, MonitoringIn)
monitoring_review_page = _page("/cases/{case_id:int}/monitoring/review", "monitoring-review", _review,
                               MonitoringReviewIn)
contact_page = _page("/cases/{case_id:int}/contact-log", "contact-log", _contact, ContactIn)


@post("/cases/{case_id:int}/screening", name="threat_screening_page", opt={FORM: ScreeningIn})
async def screening_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                         settings: NamedDependency[Settings], case_id: FromPath[int]) -> Template | Redirect:
    async def run(form: FormMultiDict, actor: Actor) -> int:
        await screenings.classify(db, registry, settings.threat_levels, actor, case_id, from_form(ScreeningIn, form),
                                  utcnow().date())
        return case_id

    return await submit_to_section(request, db, case_id, section="threat-plan", form_id="screening", change=run)


@post("/cases/{case_id:int}/screening/{version:int}/decision", name="threat_screening_decision_page",
      opt={FORM: ScreeningDecisionIn})
async def screening_decision_page(request: Request, db: NamedDependency[AsyncSession],
                                  registry: NamedDependency[AgencyRegistry], settings: NamedDependency[Settings],
                                  case_id: FromPath[int], version: FromPath[int]) -> Template | Redirect:
    async def run(form: FormMultiDict, actor: Actor) -> int:
        await screenings.decide(db, registry, settings.threat_levels, actor, case_id, version,
                                from_form(ScreeningDecisionIn, form), utcnow().date())
        return case_id

    return await submit_to_section(request, db, case_id, section="threat-plan", form_id="screening-decision",
                                   change=run)


@post("/cases/{case_id:int}/team", name="threat_team_role_page", opt={FORM: TeamRoleIn})
async def team_role_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> Template | Redirect:
    async def run(form: FormMultiDict, actor: Actor) -> int:
        await team_roles.assign(db, actor, case_id, from_form(TeamRoleIn, form))
        return case_id

    return await submit_to_section(request, db, case_id, section="threat-plan", form_id="team", change=run)


@post("/cases/{case_id:int}/team/{role_id:int}/end", name="threat_team_role_end_page")
async def end_team_role_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                             role_id: FromPath[int]) -> Template | Redirect:
    async def run(form: FormMultiDict, actor: Actor) -> int:
        await team_roles.end(db, actor, case_id, role_id)
        return case_id

    return await submit_to_section(request, db, case_id, section="threat-plan", form_id="team", change=run)


@post("/cases/{case_id:int}/team-basis", name="threat_team_basis_page", opt={FORM: TeamBasisIn})
async def team_basis_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                          case_id: FromPath[int]) -> Template | Redirect:
    async def run(form: FormMultiDict, actor: Actor) -> int:
        await team_sharing.record_basis(db, settings.team_sharing_bases, actor, case_id, from_form(TeamBasisIn, form))
        return case_id

    return await submit_to_section(request, db, case_id, section="threat-plan", form_id="team-basis", change=run)


@post("/cases/{case_id:int}/team-basis/remove", name="threat_team_basis_remove_page")
async def remove_team_basis_page(request: Request, db: NamedDependency[AsyncSession],
                                 case_id: FromPath[int]) -> Template | Redirect:
    async def run(form: FormMultiDict, actor: Actor) -> int:
        await team_sharing.remove_basis(db, actor, case_id)
        return case_id

    return await submit_to_section(request, db, case_id, section="threat-plan", form_id="team-basis", change=run)


async def _screening_state(db: AsyncSession, actor: Actor, case_id: int, levels: tuple[str, ...]) -> dict:
    case = await threat_plans.threat_case(db, actor, case_id, "screening")
    return {"levels": list(levels), "history": [screening_json(v) for v in await screenings.history(db, case.id)]}


@get("/api/cases/{case_id:int}/screening")
async def get_screening(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                        case_id: FromPath[int]) -> dict:
    """The case's classifications, newest first (each re-classification a version), and the levels in use."""
    return await _screening_state(db, current_actor(request), case_id, settings.threat_levels)


@post("/api/cases/{case_id:int}/screening")
async def classify(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   settings: NamedDependency[Settings], case_id: FromPath[int], data: JSONBody[ScreeningIn]) -> dict:
    """Screen the case (version 0 seen) or re-classify it (the latest version seen)."""
    actor = current_actor(request)
    await screenings.classify(db, registry, settings.threat_levels, actor, case_id, data, utcnow().date())
    await db.commit()
    return await _screening_state(db, actor, case_id, settings.threat_levels)


@post("/api/cases/{case_id:int}/screening/{version:int}/decision", status_code=200)
async def decide_screening(request: Request, db: NamedDependency[AsyncSession],
                           registry: NamedDependency[AgencyRegistry], settings: NamedDependency[Settings],
                           case_id: FromPath[int], version: FromPath[int], data: JSONBody[ScreeningDecisionIn]) -> dict:
    """The team's lead approves a classification awaiting her approval (it becomes the case's level) or refuses
    it with a note; nobody decides their own."""
    actor = current_actor(request)
    await screenings.decide(db, registry, settings.threat_levels, actor, case_id, version, data, utcnow().date())
    await db.commit()
    return await _screening_state(db, actor, case_id, settings.threat_levels)


async def _team_state(db: AsyncSession, actor: Actor, case_id: int) -> dict:
    case = await threat_plans.threat_case(db, actor, case_id, "team")
    return {"roles": [team_member_json(m) for m in await team_roles.team(db, case.id)]}


@get("/api/cases/{case_id:int}/team")
async def get_team(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> dict:
    """The case's team: its lead, its case manager and its members by agency, as they stand."""
    return await _team_state(db, current_actor(request), case_id)


@post("/api/cases/{case_id:int}/team", status_code=200)
async def assign_team_role(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                           data: JSONBody[TeamRoleIn]) -> dict:
    """Name a person of an agency on the case to a role on its team (a coordinator; the lead names the others)."""
    actor = current_actor(request)
    await team_roles.assign(db, actor, case_id, data)
    await db.commit()
    return await _team_state(db, actor, case_id)


@post("/api/cases/{case_id:int}/team/{role_id:int}/end", status_code=200)
async def end_team_role(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                        role_id: FromPath[int]) -> dict:
    actor = current_actor(request)
    await team_roles.end(db, actor, case_id, role_id)
    await db.commit()
    return await _team_state(db, actor, case_id)


async def _team_basis_state(db: AsyncSession, actor: Actor, case_id: int, bases: tuple[str, ...]) -> dict:
    case = await threat_plans.threat_case(db, actor, case_id, "team sharing basis")
    basis = await team_sharing.in_force(db, case.id)
    return {"bases": list(bases), "in_force": basis and {
        "id": basis.id, "legal_basis": basis.legal_basis, "approved_by_id": basis.approved_by_id,
        "approved_at": basis.approved_at}}


@get("/api/cases/{case_id:int}/team-basis")
async def get_team_basis(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                         case_id: FromPath[int]) -> dict:
    """The team's basis for sharing within the team, if one is in force, and the bases the deployment allows."""
    return await _team_basis_state(db, current_actor(request), case_id, settings.team_sharing_bases)


@post("/api/cases/{case_id:int}/team-basis")
async def record_team_basis(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                            case_id: FromPath[int], data: JSONBody[TeamBasisIn]) -> dict:
    actor = current_actor(request)
    await team_sharing.record_basis(db, settings.team_sharing_bases, actor, case_id, data)
    await db.commit()
    return await _team_basis_state(db, actor, case_id, settings.team_sharing_bases)


@post("/api/cases/{case_id:int}/team-basis/remove", status_code=200)
async def remove_team_basis(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                            case_id: FromPath[int]) -> dict:
    actor = current_actor(request)
    await team_sharing.remove_basis(db, actor, case_id)
    await db.commit()
    return await _team_basis_state(db, actor, case_id, settings.team_sharing_bases)


@get("/api/strategies")
async def strategy_catalogue(registry: NamedDependency[AgencyRegistry]) -> list[dict]:
    """Every strategy the installed agencies deliver, by domain (S, T, E, P)."""
    grouped = strategies.catalogue(registry).by_domain()
    return [entry_json(e, registry) for entries in grouped.values() for e in entries]


async def _plan_state(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int) -> dict:
    plan = await threat_plans.plan_for(db, registry, actor, case_id)
    return plan_json(plan, registry, utcnow().date())


@get("/api/cases/{case_id:int}/plan")
async def get_plan(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                   case_id: FromPath[int]) -> dict:
    return await _plan_state(db, registry, current_actor(request), case_id)


@post("/api/cases/{case_id:int}/plan")
async def add_plan_item(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        case_id: FromPath[int], data: JSONBody[PlanItemIn]) -> dict:
    actor = current_actor(request)
    task = await threat_plans.add_plan_item(db, registry, actor, case_id, data, utcnow().date())
    await db.commit()
    return {"item_id": task.id, **await _plan_state(db, registry, actor, case_id)}


@post("/api/cases/{case_id:int}/plan/keep", status_code=200)
async def keep_separation(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                          data: JSONBody[KeepReasonIn]) -> dict:
    actor = current_actor(request)
    await threat_plans.keep_separation(db, registry, actor, case_id, data)
    await db.commit()
    return await _plan_state(db, registry, actor, case_id)


def _monitoring_json(case: Case, registry: AgencyRegistry) -> dict:
    return case_json(case, registry) | {"monitoring_review_days": case.monitoring_review_days}


@post("/api/cases/{case_id:int}/monitoring", status_code=200)
async def set_monitoring(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                         case_id: FromPath[int], data: JSONBody[MonitoringIn]) -> dict:
    case = await threat_plans.set_monitoring(db, current_actor(request), case_id, data, utcnow().date())
    await db.commit()
    return _monitoring_json(case, registry)


@post("/api/cases/{case_id:int}/monitoring/review", status_code=200)
async def record_monitoring_review(request: Request, db: NamedDependency[AsyncSession],
                                   registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                                   data: JSONBody[MonitoringReviewIn]) -> dict:
    case = await threat_plans.record_monitoring_review(db, current_actor(request), case_id, data, utcnow().date())
    await db.commit()
    return _monitoring_json(case, registry)


@get("/api/cases/{case_id:int}/contact-log")
async def get_contact_log(request: Request, db: NamedDependency[AsyncSession],
                          registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> list[dict]:
    views = await threat_plans.contact_log_for(db, registry, current_actor(request), case_id, channel="api")
    await db.commit()  # the view's disclosures
    return [contact_json(v, registry) for v in views]


@post("/api/cases/{case_id:int}/contact-log")
async def log_contact(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      case_id: FromPath[int], data: JSONBody[ContactIn]) -> Response:
    actor = current_actor(request)
    item = await threat_plans.record_contact(db, registry, actor, case_id, data, utcnow().date())
    await db.commit()
    views = await threat_plans.contact_log_for(db, registry, actor, case_id, channel="api")
    await db.commit()
    [view] = [v for v in views if v.id == item.id]
    return Response(contact_json(view, registry), status_code=201)


PAGES: list = [add_plan_item_page, keep_separation_page, monitoring_page, monitoring_review_page, contact_page,
               screening_page, screening_decision_page, team_role_page, end_team_role_page, team_basis_page,
               remove_team_basis_page]
API: list = [get_screening, classify, decide_screening, get_team, assign_team_role, end_team_role, get_team_basis, record_team_basis, remove_team_basis, strategy_catalogue, get_plan, add_plan_item, keep_separation, set_monitoring, record_monitoring_review,
             get_contact_log, log_contact]
