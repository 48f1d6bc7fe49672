"""Closing and reopening a case (GBV case management, step 6).

A coordinator or the lead agency requests closure with one of the module's criteria, the date and
the specific reasons, having reviewed every open task (each done, not applicable with a reason,
or handed to another agency on the case) and the file (what is missing is listed for the
supervisor). A supervisor who is not the requester approves or refuses with a reason. Approval
closes the case: it becomes read-only, its roles and overrides end, it leaves every scheduled
agenda and the work lists, and its consent records leave the case file for the consent register.
A coordinator reopens it with a reason; a new incident within the repeat window of the last
referral counts as a repeat (MARAC's rule; reopening does not reset it).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, notifications, policy, tasks
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.lifecycle import follow_ups, team_roles, transitions
from coordinator.limits import Id, Key, ListOf, OneOf, Text, Written
from coordinator.models import (
    AgendaItem,
    Case,
    Closure,
    Conference,
    Consent,
    FollowUp,
    HearingRequest,
    InformationItem,
    Override,
    Reopening,
    RoleAssignment,
    Task,
    TaskEvent,
    TaskSignOff,
    utcnow,
)
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import ReferralThresholds
from coordinator.tasks import CLOSED_STATUSES

# The module's criteria for closing (step 6, "Determining when to close").
CRITERIA = {
    "needs_met": "The survivor's needs are met and her support systems are functioning",
    "survivor_wishes": "The survivor wants to close the case",
    "relocated": "The survivor left the area or was relocated",
    "not_reached": "The survivor could not be reached for at least 30 days",
}
# A case sent to another MARAC closes at once, with this criterion (never chosen on the closure form).
TRANSFERRED = "transferred"
SHOWN_CRITERIA = {**CRITERIA, TRANSFERRED: "The case was transferred to another MARAC"}
TASK_DECISIONS = ("done", "not_applicable", "hand_over")
SIGN_OFF_DECISIONS = ("done", "not_applicable")
# What a closure keeps of each role assignment, to restore it on reopening.
ROLE_FIELDS = ("responsibility", "agency", "person_id", "status", "conference_id")


@dataclass
class TaskReviewIn:
    """What becomes of one open task at closure."""

    task_id: Id
    decision: OneOf(TASK_DECISIONS, "each open task is done, not applicable (with a reason) or handed over")
    reason: Text(2000) = ""
    agency: Key | None = None  # hand_over: the agency on the case that takes it


@dataclass
class AgencyReviewIn:
    """Every open task of one agency at once: all done, or all not applicable (with the reason)."""

    agency: Key
    decision: OneOf(SIGN_OFF_DECISIONS, "mark an agency's tasks all done or all not applicable")
    reason: Text(2000) = ""


@dataclass
class ClosureIn:
    criterion: OneOf(CRITERIA)
    closing_on: dt.date
    reasons: Written(4000, "give the specific reasons for closing")
    tasks: ListOf(500, TaskReviewIn) = field(default_factory=list)
    # Per agency, its open tasks not decided one by one above.
    agencies: ListOf(50, AgencyReviewIn) = field(default_factory=list)


@dataclass
class DecisionIn:
    approve: bool
    note: Text(2000) = ""


@dataclass
class ReopenIn:
    reason: Written(2000, "give the reason for reopening")
    incident_on: dt.date | None = None  # a new incident, if that is why she returns


def _text(value: str, name: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise Invalid(f"give {what}", field=name)
    return value


async def file_review(session: AsyncSession, case: Case) -> list[str]:
    """What the file lacks, for the supervisor to weigh (it does not block the request)."""
    missing = []
    counts = {
        "consent": select(func.count()).select_from(Consent).where(Consent.case_id == case.id),
        "plan": select(func.count()).select_from(InformationItem).where(
            InformationItem.case_id == case.id, InformationItem.category == "case.safety_plan"),
        "follow_up": select(func.count()).select_from(FollowUp).where(
            FollowUp.case_id == case.id, FollowUp.outcome.is_not(None)),
    }
    found = {name: (await session.execute(query)).scalar() for name, query in counts.items()}
    if not found["consent"]:
        missing.append("no consent of the survivor is recorded")
    if not found["plan"]:
        missing.append("no safety plan is on file")
    if not found["follow_up"]:
        missing.append("no follow-up contact is recorded")
    if case.checklist_score is None and not case.judgement_reasons:
        missing.append("no risk assessment (checklist score or professional judgement) is recorded")
    if case.lead_agency is None:
        missing.append("no lead agency holds the case")
    return missing


async def _open_tasks(session: AsyncSession, case_id: int) -> dict[int, Task]:
    return {t.id: t for t in (await session.execute(
        select(Task).where(Task.case_id == case_id, Task.status.not_in(CLOSED_STATUSES)).order_by(Task.id)
        .execution_options(populate_existing=True))).scalars()}


def _agency_review(agency: str, decision: str, reason: str) -> None:
    if decision == "not_applicable" and not reason.strip():
        raise Invalid(f"say why the tasks of {agency} are not applicable", field="reason")


async def _mark(session: AsyncSession, actor: Actor, task: Task, values: dict[str, object],
                reason: str | None) -> None:
    """One task's review, if it is still as read: its new state and a history event. A task done
    through a referral or a consent of hers is done only once one exists, as when set done alone."""
    if values.get("status") == "done" and task.needs is not None:
        values["fulfilled_by"] = policy.require_fulfilment(task.title, task.needs,
                                                           await tasks.fulfilment(session, task.case_id, task.needs))
    values = {"version": task.version + 1, "updated_at": utcnow(), **values}
    changed = await session.execute(update(Task).where(Task.id == task.id, Task.version == task.version)
                                    .values(**values))
    if changed.rowcount != 1:
        raise Conflict(f"the task '{task.title}' was changed meanwhile: review it again", field="tasks")
    session.add(TaskEvent(task_id=task.id, by_id=actor.id, status=values.get("status", task.status), reason=reason))


async def _review_tasks(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case,
                        reviews: list[TaskReviewIn], by_agency: list[AgencyReviewIn]) -> None:
    """Apply the decision on each open task (one by one, or for all of an agency's at once);
    every open task must have one."""
    open_tasks = await _open_tasks(session, case.id)
    decided = {r.task_id: r for r in reviews}
    for review in by_agency:
        _agency_review(registry.name(review.agency), review.decision, review.reason)
        for task in open_tasks.values():
            if task.agency == review.agency and task.source != "standing":
                decided.setdefault(task.id, TaskReviewIn(task.id, review.decision, review.reason))
    unknown = [i for i in decided if i not in open_tasks]
    if unknown:
        raise Invalid(f"task {unknown[0]} is not an open task of case {case.reference}", field="tasks")
    undecided = [t for i, t in open_tasks.items() if i not in decided and t.source != "standing"]
    if undecided:
        titles = "; ".join(f"{registry.name(t.agency)}: {t.title}" for t in undecided[:5])
        raise Conflict(f"{len(undecided)} task(s) are still open: each must be done, not applicable with a reason, "
                       f"or handed to another agency before the case can close ({titles})", field="tasks")
    on_case = cases.agencies_of(case)
    for task_id, review in decided.items():
        task = open_tasks[task_id]
        reason = review.reason.strip() or None
        values: dict[str, object] = {}
        if review.decision == "hand_over":
            if review.agency not in on_case or review.agency == task.agency:
                raise Invalid("hand a task to another agency on the case", field="tasks")
            values["agency"] = review.agency
            reason = f"handed over from {registry.name(task.agency)} at closure" + (f": {reason}" if reason else "")
        else:
            if review.decision == "not_applicable" and reason is None:
                raise Invalid(f"say why '{task.title}' is not applicable", field="tasks")
            values |= {"status": review.decision, "reason": reason}
        await _mark(session, actor, task, values, reason)
    if decided:
        events.case_changed(session, case.id, "tasks")


async def sign_off(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                   data: AgencyReviewIn) -> TaskSignOff:
    """An agency marks all its open tasks on the case done, or not applicable with the reason,
    ahead of the closure request: recorded with who and when, for the supervisor to read."""
    case = await cases.case_for(session, actor, case_id)
    name = registry.name(data.agency) if data.agency in registry else data.agency
    policy.require_sign_off(actor, case, data.agency, name)
    if data.agency not in cases.agencies_of(case):
        raise Invalid(f"{name} is not part of case {case.reference}", field="agency")
    _agency_review(name, data.decision, data.reason)
    reason = data.reason.strip() or None
    marked = [t for t in (await _open_tasks(session, case.id)).values()
              if t.agency == data.agency and t.source != "standing"]
    if not marked:
        raise Conflict(f"{name} has no open task on case {case.reference} to sign off", field="agency")
    for task in marked:
        await _mark(session, actor, task, {"status": data.decision, "reason": reason}, reason)
    signed = TaskSignOff(case_id=case.id, agency=data.agency, decision=data.decision, reason=reason,
                         tasks=json.dumps([t.title for t in marked]), by_id=actor.id)
    session.add(signed)
    await session.flush()
    # The reason is free text: the audit names the record and the tasks, never its words.
    await audit.record(session, actor, "case.tasks_signed_off", case_id=case.id, subject=f"sign_off:{signed.id}",
                       agency=data.agency, decision=data.decision, tasks=[t.id for t in marked])
    events.case_changed(session, case.id, "tasks")
    return signed


async def sign_offs(session: AsyncSession, case_id: int) -> list[TaskSignOff]:
    """The agencies' sign-offs on the case, newest first."""
    return list((await session.execute(select(TaskSignOff).where(TaskSignOff.case_id == case_id)
                                       .order_by(TaskSignOff.id.desc()))).scalars())


async def pending(session: AsyncSession, case_id: int) -> Closure | None:
    return (await session.execute(select(Closure).where(
        Closure.case_id == case_id, Closure.status == "requested"))).scalar()


def _one_pending(case: Case) -> Conflict:
    return Conflict(f"a closure of case {case.reference} is already awaiting a supervisor's decision")


async def request_closure(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                          data: ClosureIn, today: dt.date) -> Closure:
    case = await cases.case_for(session, actor, case_id)
    policy.require_case_work(actor, case, "request the case's closure")
    reasons = _text(data.reasons, "reasons", "the specific reasons for closing")
    if data.criterion not in CRITERIA:
        raise Invalid(f"criterion must be one of {', '.join(CRITERIA)}", field="criterion")
    if data.closing_on > today:
        raise Invalid("the closing date cannot be in the future", field="closing_on")
    if data.criterion == "not_reached":
        attempts = (await session.execute(select(FollowUp).where(FollowUp.case_id == case.id))).scalars().all()
        if follow_ups.not_reached_days(attempts) is None:
            raise Invalid("the follow-ups do not show 30 days or more without reaching the survivor",
                          field="criterion")
    if await pending(session, case.id) is not None:  # the usual answer; the index below decides a tie
        raise _one_pending(case)
    seen = case.version
    await _review_tasks(session, registry, actor, case, data.tasks, data.agencies)
    closure = Closure(case_id=case.id, criterion=data.criterion, closing_on=data.closing_on, reasons=reasons,
                      missing_items=json.dumps(await file_review(session, case)), requested_by_id=actor.id)
    try:
        async with session.begin_nested():
            session.add(closure)
    except IntegrityError:  # a twin request was written meanwhile (uq_closures_one_pending)
        raise _one_pending(case) from None
    await transitions.move(session, actor, case, transitions.CLOSURE_REQUEST, seen=seen, reason=reasons,
                           changes={"closure": [None, "requested"]}, subject=f"closure:{closure.id}",
                           criterion=data.criterion, closing_on=data.closing_on)
    await notifications.notify(session, notifications.case_notice(
        "closure_awaiting", f"closure:{closure.id}:requested", case.id, case.reference),
        users=await notifications.supervisors(session), not_to=actor.id)
    return closure


async def decide_closure(session: AsyncSession, actor: Actor, case_id: int, closure_id: int,
                         data: DecisionIn) -> Closure:
    """A supervisor (on a threat-assessment case, the team's lead), not the requester, approves (the case
    closes) or refuses with a reason."""
    case = await cases.case_for(session, actor, case_id)
    closure = await session.get(Closure, closure_id)
    if closure is None or closure.case_id != case.id:
        raise NotFound(f"no closure {closure_id} on case {case_id}")
    policy.require_closure_decider(actor, closure.requested_by_id, await team_roles.lead_id(session, case.id))
    note = data.note.strip()
    if not data.approve and not note:
        raise Invalid("say why the closure is refused", field="note")
    now = utcnow()
    status = "approved" if data.approve else "refused"
    values: dict[str, object] = {"status": status, "decided_by_id": actor.id, "decided_at": now,
                                 "decision_note": note or None}
    if data.approve:
        values["role_map"] = json.dumps(await _current_roles(session, case.id))
    decided = await session.execute(update(Closure).where(Closure.id == closure.id, Closure.status == "requested")
                                    .values(**values))
    if decided.rowcount != 1:
        raise Conflict(f"closure {closure.id} has been decided already")
    if data.approve:
        await audit.record(session, actor, "case.closure_approved", case_id=case.id, subject=f"closure:{closure.id}")
        await _close(session, actor, case, closure, now)
    else:
        await transitions.move(session, actor, case, transitions.CLOSURE_REFUSAL, seen=case.version, reason=note,
                               changes={"closure": ["requested", "refused"]}, subject=f"closure:{closure.id}")
    await notifications.notify(session, notifications.case_notice(
        "closure_decided", f"closure:{closure.id}:decided", case.id, case.reference), users=[closure.requested_by_id])
    await session.refresh(closure)
    return closure


async def _current_roles(session: AsyncSession, case_id: int) -> list[dict]:
    """The case's role map as it stands, as the closure keeps it for a reopening."""
    held = (await session.execute(select(RoleAssignment).where(
        RoleAssignment.case_id == case_id, RoleAssignment.ended_at.is_(None)).order_by(RoleAssignment.id))).scalars()
    return [{name: getattr(role, name) for name in ROLE_FIELDS} for role in held]


async def _settle_pending(session: AsyncSession, case_id: int, now: dt.datetime, why: str) -> None:
    """No other request outlives a closure or a reopening: it would close the case again later."""
    await session.execute(update(Closure).where(Closure.case_id == case_id, Closure.status == "requested").values(
        status="refused", decided_at=now, decision_note=why))


async def _close(session: AsyncSession, actor: Actor, case: Case, closure: Closure, now: dt.datetime) -> None:
    closed_at = dt.datetime.combine(closure.closing_on, now.timetz()) if closure.closing_on < now.date() else now
    await _settle_pending(session, case.id, now, "another closure of the case was approved")
    scheduled = list((await session.execute(select(AgendaItem.conference_id).join(Conference).where(
        AgendaItem.case_id == case.id, Conference.status == "scheduled"))).scalars())
    await transitions.move(session, actor, case, transitions.CLOSURE_APPROVAL, seen=case.version,
                           reason=closure.reasons, values={"closed_at": closed_at},
                           changes={"criterion": [None, closure.criterion], "closure": ["requested", "approved"]},
                           parts=("case", "roles", "overrides"), closure=closure.id, agendas_left=scheduled)
    await session.execute(update(RoleAssignment).where(
        RoleAssignment.case_id == case.id, RoleAssignment.ended_at.is_(None)).values(ended_at=now))
    await session.execute(update(Override).where(
        Override.case_id == case.id, Override.status == "approved", Override.expires_at > now).values(expires_at=now))
    await session.execute(update(Override).where(Override.case_id == case.id, Override.status == "requested").values(
        status="refused", decided_at=now, decision_note="the case closed"))
    await session.execute(delete(AgendaItem).where(AgendaItem.case_id == case.id,
                                                   AgendaItem.conference_id.in_(scheduled)))
    await session.execute(delete(HearingRequest).where(HearingRequest.case_id == case.id,
                                                       HearingRequest.conference_id.is_(None)))
    for conference_id in scheduled:
        events.conference_changed(session, conference_id, "agenda")


async def close_as_transferred(session: AsyncSession, actor: Actor, case: Case, to: str, today: dt.date) -> Closure:
    """The case was sent to another MARAC: it closes now, the transfer being the decision (there is
    no supervisor's approval to wait for), with the same effects as an approved closure."""
    now = utcnow()
    await _settle_pending(session, case.id, now, "the case was transferred")
    closed = Closure(case_id=case.id, criterion=TRANSFERRED, closing_on=today, reasons=f"transferred to {to}",
                     status="approved", requested_by_id=actor.id, decided_by_id=actor.id, decided_at=now,
                     role_map=json.dumps(await _current_roles(session, case.id)))
    session.add(closed)
    await session.flush()
    await _close(session, actor, case, closed, now)
    return closed


async def _role_map_at_closure(session: AsyncSession, case_id: int) -> list[dict]:
    """The role map as the last approved closure of the case kept it."""
    kept = (await session.execute(select(Closure.role_map).where(
        Closure.case_id == case_id, Closure.status == "approved").order_by(Closure.decided_at.desc(), Closure.id.desc())
        .limit(1))).scalar()
    return json.loads(kept or "[]")


async def reopen(session: AsyncSession, thresholds: ReferralThresholds, actor: Actor, case_id: int,
                 data: ReopenIn, today: dt.date) -> Case:
    """A coordinator reopens a closed case: it returns to follow-up with its history and the role
    map it had when it closed."""
    policy.require_coordinator(actor, "reopen a case")
    case = await cases.case_for(session, actor, case_id)
    policy.require_reopener(actor, case)
    reason = _text(data.reason, "reason", "the reason for reopening")
    if data.incident_on is not None and data.incident_on > today:
        raise Invalid("the new incident cannot be in the future", field="incident_on")
    now = utcnow()
    values: dict[str, object] = {"closed_at": None, "reopened_at": now}
    changes: dict[str, list] = {}
    if data.incident_on is not None:
        values["last_incident_on"] = data.incident_on
        referred = case.last_referral_on or case.created_at.date()
        if (data.incident_on - referred).days <= thresholds.repeat_window_days:
            grounds = [g for g in case.referral_grounds.split(",") if g]
            values["referral_grounds"] = ",".join(dict.fromkeys([*grounds, "repeat"]))
            changes["repeat"] = [False, True]
    roles = await _role_map_at_closure(session, case.id)
    await transitions.move(session, actor, case, transitions.REOPENING, seen=case.version, reason=reason,
                           values=values, changes=changes, parts=("case", "roles"), repeat="repeat" in changes,
                           roles_restored=len(roles))
    # Restored as new assignments: the role map's history keeps the ended ones and these.
    session.add_all([RoleAssignment(case_id=case.id, assigned_by_id=actor.id, **role) for role in roles])
    await _settle_pending(session, case.id, now, "the case was reopened")
    session.add(Reopening(case_id=case.id, reason=reason, by_id=actor.id))
    return await cases.load_case(session, case.id)


def is_repeat(case: Case) -> bool:
    return "repeat" in case.referral_grounds.split(",")


async def case_closures(session: AsyncSession, case_id: int) -> list[Closure]:
    return list((await session.execute(
        select(Closure).where(Closure.case_id == case_id).order_by(Closure.id.desc()))).scalars())


async def awaiting_decision(session: AsyncSession) -> list[tuple[Closure, str]]:
    """Closures requested and not yet decided, oldest first, with their case reference: a supervisor's queue."""
    return [tuple(row) for row in (await session.execute(
        select(Closure, Case.reference).join(Case, Case.id == Closure.case_id)
        .where(Closure.status == "requested").order_by(Closure.requested_at))).all()]
