"""Follow-up contacts with the survivor (GBV case management, step 5): planned contacts, their
outcome, a safety reassessment at each contact and the action plan revised.

What is said (the safe-contact words; the reassessment answers, services accessed, new needs) is
information held by the contacting agency: items of the core category ``case.follow_up``, read
only through the consent gate. The follow-up row itself holds dates, kinds and ids.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, gate, policy, tasks
from coordinator.cases import RISK_LEVELS
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.gate import ItemView
from coordinator.hookspecs import TASK_DOMAINS
from coordinator.lifecycle import case_changes
from coordinator.lifecycle.safety_plans import labelled
from coordinator.limits import Count, Id, Key, ListOf, OneOf, Text, WrittenLine
from coordinator.models import FollowUp, InformationItem, User, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.tasks import TaskIn

CATEGORY = "case.follow_up"
METHODS = ("phone", "visit", "text", "email", "in_person")
CALLING_METHODS = ("phone",)
OUTCOMES = ("reached", "not_reached", "unsafe_to_contact")
FAILED = ("not_reached", "unsafe_to_contact")
NOT_REACHED_DAYS = 30  # the closure criterion (GBV step 6): not reached for a minimum of 30 days
MAX_NOTE = 4_000
MAX_NEW_TASKS = 20
# The reassessment at each contact: the purpose of follow-up in GBV step 5, asked every time. The first
# question says "physical and mental well-being" where the reference uses a word that is also an agency's key,
# which the core never names.
QUESTIONS = {
    "safety_status": "The status of the survivor in terms of their safety, physical and mental well-being, family, "
                     "social life (friends, school, work), feelings, and services",
    "getting_help": "Is the survivor getting the help and services they need, and in a timely manner? "
                    "What is the outcome of the services they received?",
    "plans_in_action": "Were previous plans put into action?",
    "barriers": "Are there any barriers to achieving the case action goals?",
    "new_needs": "Does the survivor have any new needs?",
}
NOTE_LABELS = {"safe_contact": "Safe contact: what to say if someone else answers", **QUESTIONS,
               "services_accessed": "Services accessed"}


@dataclass
class FollowUpIn:
    """A planned contact: who (an agency on the case, optionally a named person of it), when, how,
    and whether it is safe to call; ``safe_contact`` says what to say if someone else answers."""

    agency: Key
    planned_on: dt.date
    method: OneOf(METHODS)
    safe_to_call: bool
    person_id: Id | None = None
    safe_contact: Text(MAX_NOTE) = ""


@dataclass
class NewTaskIn:
    """A task the revised action plan adds. A referral to a service needs the survivor's consent."""

    agency: Key
    title: WrittenLine(500, "give the task a title")
    domain: OneOf(TASK_DOMAINS)
    due_on: dt.date | None = None
    referral: bool = False
    referral_consent: bool = False


@dataclass
class OutcomeIn:
    """What came of a contact attempt, with the reassessment when the survivor was reached."""

    version: Count
    outcome: OneOf(OUTCOMES)
    attempted_on: dt.date
    updated_risk: OneOf(RISK_LEVELS) | None = None
    safety_status: Text(MAX_NOTE) = ""
    getting_help: Text(MAX_NOTE) = ""
    plans_in_action: Text(MAX_NOTE) = ""
    barriers: Text(MAX_NOTE) = ""
    new_needs: Text(MAX_NOTE) = ""
    services_accessed: Text(MAX_NOTE) = ""
    tasks: ListOf(MAX_NEW_TASKS, NewTaskIn) = field(default_factory=list)


@dataclass(frozen=True)
class FollowUpView:
    """A follow-up as one agency may see it: its notes come from the gate (placeholders when withheld)."""

    row: FollowUp
    person_name: str | None
    plan_note: ItemView | None
    outcome_note: ItemView | None


class Attempt(Protocol):
    outcome: str | None
    attempted_on: dt.date | None


def not_reached_days(follow_ups: Iterable[Attempt]) -> int | None:
    """How many days the failed contact attempts since the last successful contact span, when that
    is the closure criterion's 30 days or more; else None. A contact on the same day as a failed
    attempt counts as after it: she was reached that day."""
    attempts = sorted(((f.attempted_on, f.outcome == "reached") for f in follow_ups
                       if f.attempted_on is not None and f.outcome in OUTCOMES))
    failed: list[dt.date] = []
    for on, reached in attempts:
        failed = [] if reached else [*failed, on]
    if not failed:
        return None
    span = (failed[-1] - failed[0]).days
    return span if span >= NOT_REACHED_DAYS else None


def note_sections(text: str | None) -> list[tuple[str, str]]:
    return labelled(text, NOTE_LABELS, "Note")


def _note(case_id: int, agency: str, actor: Actor, registry: AgencyRegistry, notes: dict[str, str]) -> InformationItem:
    return InformationItem(case_id=case_id, agency=agency, category=CATEGORY, nature="fact",
                           sensitivity=registry.category(CATEGORY).sensitivity,
                           text=json.dumps(notes, ensure_ascii=False), recorded_by_id=actor.id)


async def _add_note(session: AsyncSession, item: InformationItem) -> int:
    session.add(item)
    await session.flush()
    item.lineage_id = item.id
    return item.id


async def plan_follow_up(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                         plan_in: FollowUpIn) -> FollowUp:
    """Plan a contact with the survivor by an agency on the case (that agency or a coordinator)."""
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    if plan_in.agency not in cases.agencies_of(case):
        raise Invalid(f"{registry.name(plan_in.agency)} is not part of case {case.reference}", field="agency")
    policy.require_follow_up_for(actor, case, plan_in.agency, registry.name(plan_in.agency), "plan its follow-ups")
    if plan_in.method in CALLING_METHODS and not plan_in.safe_to_call:
        raise Invalid("it is not safe to call: choose another way to make contact", field="method")
    if plan_in.person_id is not None:
        person = await session.get(User, plan_in.person_id)
        if person is None or person.agency != plan_in.agency or not person.active:
            raise Invalid(f"the person must be someone of {registry.name(plan_in.agency)}", field="person_id")
    plan_item_id = None
    if plan_in.safe_contact.strip():
        plan_item_id = await _add_note(session, _note(case.id, plan_in.agency, actor, registry,
                                                      {"safe_contact": plan_in.safe_contact.strip()}))
    follow_up = FollowUp(case_id=case.id, agency=plan_in.agency, person_id=plan_in.person_id,
                         planned_on=plan_in.planned_on, method=plan_in.method, safe_to_call=plan_in.safe_to_call,
                         plan_item_id=plan_item_id, created_by_id=actor.id)
    session.add(follow_up)
    await session.flush()
    await audit.record(session, actor, "follow_up.planned", case_id=case.id, subject=f"follow_up:{follow_up.id}",
                       agency=plan_in.agency, planned_on=plan_in.planned_on, method=plan_in.method,
                       safe_to_call=plan_in.safe_to_call, plan_item=plan_item_id)
    events.case_changed(session, case.id, *(("follow_ups", "items") if plan_item_id else ("follow_ups",)))
    return follow_up


async def follow_up_for(session: AsyncSession, actor: Actor, follow_up_id: int) -> FollowUp:
    """The follow-up, if the actor may see its case; else 404, as for a missing one."""
    follow_up = (await session.execute(
        select(FollowUp).where(FollowUp.id == follow_up_id).execution_options(populate_existing=True))).scalar()
    if follow_up is None:
        raise NotFound(f"no follow-up {follow_up_id}")
    policy.require_case_visible(actor, await cases.agencies_on(session, follow_up.case_id), f"follow-up {follow_up_id}")
    return follow_up


def _checked_outcome(outcome_in: OutcomeIn, agencies: list[str], registry: AgencyRegistry) -> dict[str, str]:
    """The notes to keep, once every rule of the outcome holds (nothing is written before)."""
    if outcome_in.attempted_on > utcnow().date():
        raise Invalid("the attempt cannot be in the future", field="attempted_on")
    notes = {key: getattr(outcome_in, key).strip() for key in (*QUESTIONS, "services_accessed")}
    if outcome_in.outcome == "reached":
        if not notes["safety_status"]:
            raise Invalid("reassess her safety: answer the first question", field="safety_status")
    elif outcome_in.updated_risk is not None:
        raise Invalid("the risk is reassessed only when the survivor was reached", field="updated_risk")
    for index, task in enumerate(outcome_in.tasks):
        if task.agency not in agencies:
            raise Invalid(f"{registry.name(task.agency)} is not part of the case", field=f"tasks[{index}].agency")
        if not task.title.strip():
            raise Invalid("give the task a title", field=f"tasks[{index}].title")
        if task.referral and not task.referral_consent:
            raise Invalid("a new referral needs the survivor's consent: record that she gave it",
                          field=f"tasks[{index}].referral_consent")
    return {key: value for key, value in notes.items() if value}


async def record_outcome(session: AsyncSession, registry: AgencyRegistry, actor: Actor, follow_up_id: int,
                         outcome_in: OutcomeIn) -> FollowUp:
    """Record what came of a contact attempt, its reassessment and the action plan's new tasks.
    Only the follow-up's agency or a coordinator may; ``version`` is the one the actor saw."""
    follow_up = await follow_up_for(session, actor, follow_up_id)
    case = await cases.load_case(session, follow_up.case_id)
    policy.require_follow_up_for(actor, case, follow_up.agency, registry.name(follow_up.agency), "record this outcome")
    if follow_up.version != outcome_in.version:
        raise _changed_meanwhile(follow_up)
    if follow_up.outcome is not None:
        raise Conflict("this contact's outcome is recorded already: plan another follow-up for a new attempt",
                       field="version")
    notes = _checked_outcome(outcome_in, cases.agencies_of(case), registry)
    # Compared in the UPDATE: two people recording at once on the same view cannot both win.
    changed = await session.execute(
        update(FollowUp).where(FollowUp.id == follow_up.id, FollowUp.version == outcome_in.version,
                               FollowUp.outcome.is_(None))
        .values(outcome=outcome_in.outcome, attempted_on=outcome_in.attempted_on,
                updated_risk=outcome_in.updated_risk, version=outcome_in.version + 1))
    if changed.rowcount != 1:
        await session.refresh(follow_up)
        raise _changed_meanwhile(follow_up)
    outcome_item_id = None
    if notes:
        outcome_item_id = await _add_note(session, _note(case.id, follow_up.agency, actor, registry, notes))
        await session.execute(update(FollowUp).where(FollowUp.id == follow_up.id)
                              .values(outcome_item_id=outcome_item_id))
    added = []
    for task_in in outcome_in.tasks:
        task = await tasks.assign_task(session, registry, actor, case.id, TaskIn(
            agency=task_in.agency, title=task_in.title, domain=task_in.domain, due_on=task_in.due_on),
            source="follow_up")
        added.append((task.id, task_in.referral))
    await audit.record(session, actor, "follow_up.outcome_recorded", case_id=case.id,
                       subject=f"follow_up:{follow_up.id}", outcome=outcome_in.outcome,
                       attempted_on=outcome_in.attempted_on, updated_risk=outcome_in.updated_risk,
                       outcome_item=outcome_item_id, tasks=[task_id for task_id, _ in added],
                       referrals_with_consent=[task_id for task_id, referral in added if referral])
    parts = ["follow_ups", *(["items"] if outcome_item_id else []), *(["tasks"] if added else [])]
    events.case_changed(session, case.id, *parts)
    if outcome_in.updated_risk is not None:
        await case_changes.risk_found_at_contact(session, registry, actor, case, outcome_in.updated_risk,
                                                 follow_up.id, outcome_in.attempted_on)
    await session.refresh(follow_up)
    return follow_up


async def not_reached_for(session: AsyncSession, case_id: int) -> int | None:
    """``not_reached_days`` of the case's whole record, counted by the database: the span of the
    failed attempts after the last contact that reached her (a contact on the same day as a failed
    attempt counts as after it)."""
    attempted = FollowUp.attempted_on.is_not(None) & FollowUp.outcome.in_(OUTCOMES)
    last_reached = (select(func.max(FollowUp.attempted_on))
                    .where(FollowUp.case_id == case_id, attempted, FollowUp.outcome == "reached").scalar_subquery())
    first, last = (await session.execute(
        select(func.min(FollowUp.attempted_on), func.max(FollowUp.attempted_on)).where(
            FollowUp.case_id == case_id, attempted, FollowUp.outcome != "reached",
            or_(last_reached.is_(None), FollowUp.attempted_on > last_reached)))).one()
    if first is None:
        return None
    span = (last - first).days
    return span if span >= NOT_REACHED_DAYS else None


def _changed_meanwhile(follow_up: FollowUp) -> Conflict:
    state = f"outcome {follow_up.outcome.replace('_', ' ')}" if follow_up.outcome else "no outcome yet"
    return Conflict(f"this follow-up was changed by someone else meanwhile (now {state}, version "
                    f"{follow_up.version}): reload and try again", field="version")


async def case_follow_ups(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int, *,
                          channel: str, only: int | None = None, limit: int | None = None) -> list[FollowUpView]:
    """The case's follow-ups (or ``only`` that one), latest planned first (the latest ``limit`` if
    given), with their notes as the viewer's agency may see them (the disclosures are audited in
    the caller's transaction)."""
    case = await cases.case_for(session, viewer, case_id)
    query = (select(FollowUp, User.display_name).outerjoin(User, User.id == FollowUp.person_id)
             .where(FollowUp.case_id == case.id).order_by(FollowUp.planned_on.desc(), FollowUp.id.desc())
             .limit(limit).execution_options(populate_existing=True))
    if only is not None:
        query = query.where(FollowUp.id == only)
    rows = list((await session.execute(query)).all())
    note_ids = [i for row, _ in rows for i in (row.plan_item_id, row.outcome_item_id) if i is not None]
    notes = {}
    if note_ids:
        notes = {view.id: view for view in await gate.visible_items(
            session, registry, viewer, case.id, channel=channel, item_ids=note_ids, include_superseded=True)}
    return [FollowUpView(row=row, person_name=name, plan_note=notes.get(row.plan_item_id),
                         outcome_note=notes.get(row.outcome_item_id)) for row, name in rows]


async def follow_up_view(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, follow_up_id: int, *,
                         channel: str) -> FollowUpView:
    follow_up = await follow_up_for(session, viewer, follow_up_id)
    [view] = await case_follow_ups(session, registry, viewer, follow_up.case_id, channel=channel, only=follow_up.id)
    return view
