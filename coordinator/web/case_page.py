"""The case page: what it shows of a case for one person (every section, information through the
consent gate), and the one way its forms answer: back to the case, or the page again with the
message beside the form that failed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from jinja2 import Environment
from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.response import Redirect, Template
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, consents, policy, tasks
from coordinator.cases import RISK_LEVELS
from coordinator.conference import roles
from coordinator.errors import CaseClosed, DomainError
from coordinator.hookspecs import STRATEGY_DOMAINS
from coordinator.lifecycle import (
    case_changes,
    case_events,
    closure,
    duties,
    feedback,
    follow_ups,
    referrals,
    safety_plans,
    strategies,
    threat_plans,
)
from coordinator.models import Case, User, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.web.auth import current_actor
from coordinator.web.sharing import information_context

NO_VALUES = FormMultiDict()
TASK_ROWS = 2  # new tasks the follow-up outcome form offers at once; the API takes up to follow_ups.MAX_NEW_TASKS


async def case_page_context(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int) -> dict:
    """Everything the case page shows, for one person: its sections' information through the gate."""
    case = await cases.case_for(db, actor, case_id)
    today = utcnow().date()
    by_agency: dict[str, list] = {link.agency: [] for link in case.agencies}
    for task in await tasks.case_tasks(db, case.id, today):
        by_agency.setdefault(task.agency, []).append(task)
    information = await information_context(db, registry, actor, case)
    failures = (await audit.case_entries(db, case.id, "plugin.failed")
                if policy.may_see_plugin_failures(actor) else [])
    revisions = await case_changes.history(db, case.id)
    raised = await case_events.case_events(db, case.id)
    signed = await closure.sign_offs(db, case.id)
    authors = ({r.by_id for r in revisions} | {e.by_id for e in raised if e.by_id is not None}
               | {s.by_id for s in signed})
    names = dict((await db.execute(select(User.id, User.display_name).where(User.id.in_(authors)))).all())
    all_tasks = [t for agency_tasks in by_agency.values() for t in agency_tasks]
    return {"case": case, "tasks_by_agency": by_agency, "today": today, "actor": actor,
            "can": policy.Permissions(actor), "plugin_failures": failures, **information,
            "roles": await roles.case_roles(db, case.id), "revisions": revisions, "people_names": names,
            "case_event_list": [e for e in raised if e.event not in case_events.NOT_LISTED], "not_reached_days": None,
            "held_elsewhere": {agency: duties.held_elsewhere(registry, all_tasks, agency) for agency in by_agency},
            "open_tasks": [t for t in all_tasks if t.status not in tasks.CLOSED_STATUSES and t.source != "standing"],
            "closures": await closure.case_closures(db, case.id), "CLOSURE_CRITERIA": closure.CRITERIA,
            "sign_offs": signed,
            "register_open": case.closed_at is not None and await consents.may_open_register(db, actor, case.id),
            **await _follow_up_sections(db, registry, actor, case),
            **await _threat_sections(db, registry, actor, case),
            **await _referral_sections(db, registry, actor, case)}


async def live_sections(db: AsyncSession, actor: Actor, case_id: int, token: str, *, registry: AgencyRegistry,
                        env: Environment) -> str:
    """The case page's sections as the reader's open page gets them when the case changes: the
    live container's new content. Its forms carry the reader's own form token, as the page did."""
    context = await case_page_context(db, registry, actor, case_id)
    context["csrf_input"] = Markup(f'<input type="hidden" name="_csrf_token" value="{escape(token)}" />')
    sections = env.get_template("_case_sections.html").render(context)
    return f'<div id="case-live" hx-swap-oob="innerHTML">{sections}</div>'


async def _follow_up_sections(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case) -> dict:
    """What the case page shows of the safety plan and the follow-ups, through the gate."""
    holder = await safety_plans.holder(db, case.id)
    views = await follow_ups.case_follow_ups(db, registry, actor, case.id, channel="page")
    agencies = [link.agency for link in case.agencies]
    return {
        "safety_plan": await safety_plans.current_plan(db, registry, actor, case, channel="page"),
        "plan_holder": holder, "plan_labels": safety_plans.section_labels(case.kind),
        "can_write_plan": policy.may_write_safety_plan(actor, case, holder),
        "follow_ups": views, "not_reached_days": follow_ups.not_reached_days(v.row for v in views),
        "follow_up_agencies": [a for a in agencies if policy.may_follow_up_for(actor, case, a)],
        "can_record_outcome": {v.row.id for v in views if v.row.outcome is None
                               and policy.may_follow_up_for(actor, case, v.row.agency)},
        "follow_up_choices": {"methods": follow_ups.METHODS, "outcomes": follow_ups.OUTCOMES, "risks": RISK_LEVELS,
                              "questions": follow_ups.QUESTIONS, "task_rows": range(TASK_ROWS)},
        "follow_up_error": None, "follow_up_form": "", "follow_up_values": NO_VALUES,
    }


async def _threat_sections(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case) -> dict:
    """What the case page shows of a threat-assessment case: the plan, the catalogue to choose from, the
    monitoring status and the contact log (through the gate). Empty for any other kind of case."""
    if case.kind != threat_plans.KIND:
        return {"threat": None}
    today = utcnow().date()
    agencies = cases.agencies_of(case)
    plan = await threat_plans.case_plan(db, registry, case.id)
    people = (await db.execute(select(User.id, User.display_name, User.agency).where(
        User.agency.in_(agencies), User.active.is_(True)).order_by(User.display_name))).all()
    return {"threat": {
        "plan": plan, "review_now": {i.task.id for i in plan.items if threat_plans.review_now(i.task, today)},
        "catalogue": strategies.catalogue(registry).offered_to(agencies),
        "domain_labels": strategies.DOMAIN_LABELS, "letters": STRATEGY_DOMAINS,
        "can_plan_for": [a for a in agencies if policy.may_change_task(actor, case, a)],
        "can_keep": policy.may_keep_plan(actor, case, threat_plans.plan_agencies([i.task for i in plan.items])),
        "can_set_monitoring": policy.may_set_monitoring(actor, case),
        "can_log_contact": policy.may_log_contact(actor, case, agencies),
        "people": people, "contact_log": await threat_plans.contact_log(db, registry, actor, case, channel="page"),
        "monitoring": threat_plans.MONITORING, "channels": threat_plans.CHANNELS,
        "contact_about": threat_plans.CONTACT_ABOUT,
    }}


async def _referral_sections(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case) -> dict:
    """The case's referrals (with the form to make one) and, once closed, its feedback survey."""
    rows = await referrals.case_referrals(db, case.id)
    on_case = set(cases.agencies_of(case))
    directory = await referrals.directory(db, registry) if case.closed_at is None else []
    closed = case.closed_at is not None
    return {
        "referrals": rows,
        "referral_services": await referrals.services_by_id(db, {r.service_id for r in rows}),
        "referral_names": await consents.display_names(db, {e.by_id for r in rows for e in r.history}),
        "referral_agencies": [a for a in registry if a.key not in on_case],
        "referral_directory": directory, "referral_note_kinds": referrals.NOTE_LABELS,
        "survey_given": await feedback.administration_of(db, case.id) if closed else None,
        "survey_caseworker_id": await feedback.caseworker_of(db, case) if closed else None,
    }


async def _case_page(request: Request, db: AsyncSession, case_id: int, error: DomainError, form_id: str,
                     values: FormMultiDict) -> Template:
    """The case page again, with the message beside the form that failed and what was typed."""
    context = await case_page_context(db, request.app.state.registry, current_actor(request), case_id)
    await db.commit()  # the view's disclosures
    context.update(follow_up_error=error, follow_up_form=form_id, follow_up_values=values)
    return Template("case.html", status_code=error.status, context=context)


Change = Callable[[FormMultiDict, Actor], Awaitable[int]]


async def submit_case_form(request: Request, db: AsyncSession, case_id: int | None, *, form_id: str, anchor: str,
                  change: Change) -> Template | Redirect:
    """Run a form's change and commit it, then back to the case; on a rule broken, nothing is
    written and the case page comes back with the message. ``change`` answers the case's id."""
    form = await request.form()
    actor = current_actor(request)
    try:
        case_id = await change(form, actor)
    except DomainError as error:
        await db.rollback()
        if case_id is None or isinstance(error, CaseClosed):
            raise
        return await _case_page(request, db, case_id, error, form_id, form)
    await db.commit()
    return Redirect(f"/cases/{case_id}#{anchor}", status_code=303)
