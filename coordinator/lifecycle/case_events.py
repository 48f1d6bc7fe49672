"""Case events: raised once each, answered by the agencies' plugins, and bringing the case back
to the next conference.

An event is a row in ``case_events`` keyed by (case, event, subject, date). Raising one inserts
that row in a savepoint: when the key exists already (another process, an earlier run, a user
recording the same thing twice) nothing else happens, so each event is raised exactly once,
enforced by the database. Then every agency on the case is asked through the event's own hook
(``case_<event>``) for follow-up tasks; a plugin that fails is recorded and skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, policy
from coordinator.errors import Conflict, Invalid
from coordinator.hookspecs import PRECIPITATING_EVENTS
from coordinator.limits import OneOf, Text
from coordinator.models import Case, HearingRequest, RaisedEvent, Task
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.tasks import CLOSED_STATUSES

# Each event as the case page names it.
EVENT_LABELS = {
    "risk_raised": "Risk raised", "threat_level_raised": "Threat classification raised", "key_date_near": "Key date near", "anniversary": "Anniversary of a key date",
    "order_violated": "Order or notice violated", "precipitating_event": "Precipitating event",
    "follow_up_due": "Follow-up due", "follow_up_missed": "Follow-up missed", "task_overdue": "Task overdue",
    "safety_plan_review_due": "Safety plan due for review", "monitoring_review_due": "Monitoring review due",
    "screening_overdue": "Screening overdue",
    "information_recorded": "Information recorded",
}
# Events the case page does not list: the information list already shows each item recorded.
NOT_LISTED = ("information_recorded",)
# Why an event brings the case back to the agenda, as the queue shows it (None: it does not).
AGENDA_REASONS = {
    "risk_raised": "the risk level rose",
    "threat_level_raised": "the threat was classified higher",
    "key_date_near": "a key date is near",
    "anniversary": "a key date's anniversary",
    "order_violated": "an order or notice was violated",
    "precipitating_event": "a precipitating event was recorded",
    "follow_up_missed": "a follow-up contact was missed",
    "task_overdue": "an action is overdue",
    "safety_plan_review_due": "the safety plan is due for review",
    "monitoring_review_due": "its monitoring review is due",
    "screening_overdue": "its report was not screened in the time the team sets",
    "follow_up_due": None,
    "information_recorded": None,
}


@dataclass
class PrecipitatingEventIn:
    """A precipitating event someone on the case learned of (the threat-assessment exhibit's list)."""

    kind: OneOf(PRECIPITATING_EVENTS)
    on: dt.date
    note: Text(2000) = ""


async def raise_event(session: AsyncSession, registry: AgencyRegistry, actor: Actor | None, case: Case, event: str,
                      /, *, subject: str, occurs_on: dt.date, note: str = "", **arguments: Any) -> RaisedEvent | None:
    """Raise ``event`` on ``case`` once for (``subject``, ``occurs_on``); None if it was raised
    before. ``arguments`` are passed to the hook ``case_<event>`` with the case's facts. ``actor``
    None is the monitor."""
    raised = RaisedEvent(case_id=case.id, event=event, subject=subject, occurs_on=occurs_on, note=note,
                         by_id=actor.id if actor else None)
    try:
        async with session.begin_nested():
            session.add(raised)
    except IntegrityError:
        return None
    doer = actor or policy.SYSTEM
    facts = await cases.case_facts(session, case)
    reactions, failures = registry.reactions(cases.agencies_of(case), f"case_{event}", case=facts, **arguments)
    due = await cases.due_context(session, case, [t for templates in reactions.values() for t in templates])
    added = [cases.task_from(case.id, agency, template, "case_event", doer, due)
             for agency, templates in reactions.items() for template in templates]
    session.add_all(added)
    raised.tasks_added = len(added)
    for failure in failures:
        # Names only: the exception's message is the plugin's own text and may hold case details.
        await audit.record(session, doer, "plugin.failed", case_id=case.id, subject=f"case:{case.id}",
                           plugin=failure.plugin, hook=failure.hook, error=failure.error)
    await session.flush()
    await audit.record(session, doer, f"case.event.{event}", case_id=case.id, subject=f"event:{raised.id}",
                       about=subject, on=occurs_on, tasks_added=len(added))
    reason = AGENDA_REASONS[event]
    if reason is not None:
        await request_hearing(session, case.id, reason, event_id=raised.id)
    events.case_changed(session, case.id, "events", *(("tasks",) if added else ()))
    return raised


async def request_hearing(session: AsyncSession, case_id: int, reason: str, *, event_id: int | None = None) -> None:
    """Put the case in the "to be heard" queue with ``reason`` (a queued case keeps one entry per reason)."""
    queued = (await session.execute(select(HearingRequest.id).where(
        HearingRequest.case_id == case_id, HearingRequest.reason == reason,
        HearingRequest.conference_id.is_(None)))).first()
    if queued is None:
        session.add(HearingRequest(case_id=case_id, reason=reason, event_id=event_id))


async def hearing_queue(session: AsyncSession) -> dict[int, list[str]]:
    """The cases waiting to be heard (not yet placed on an agenda), with their reasons, oldest first."""
    rows = (await session.execute(
        select(HearingRequest.case_id, HearingRequest.reason).join(Case, Case.id == HearingRequest.case_id)
        .where(HearingRequest.conference_id.is_(None), Case.closed_at.is_(None)).order_by(HearingRequest.id)
    )).all()
    queue: dict[int, list[str]] = {}
    for case_id, reason in rows:
        queue.setdefault(case_id, []).append(reason)
    return queue


async def record_precipitating_event(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                                     data: PrecipitatingEventIn, today: dt.date) -> RaisedEvent:
    """Anyone on the case records a precipitating event; it is raised at once (an order violated
    through its own hook)."""
    if data.kind not in PRECIPITATING_EVENTS:
        raise Invalid(f"kind must be one of {', '.join(PRECIPITATING_EVENTS)}", field="kind")
    if data.on > today:
        raise Invalid("record an event once it has happened: the date is in the future", field="on")
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    policy.require_on_case(actor, cases.agencies_of(case), case.reference, "record an event on it")
    if data.kind == "order_violated":
        raised = await raise_event(session, registry, actor, case, "order_violated", subject="kind:order_violated",
                                   occurs_on=data.on, note=data.note.strip(), on=data.on)
    else:
        raised = await raise_event(session, registry, actor, case, "precipitating_event", subject=f"kind:{data.kind}",
                                   occurs_on=data.on, note=data.note.strip(), kind=data.kind, on=data.on)
    if raised is None:
        raise Conflict(f"{PRECIPITATING_EVENTS[data.kind]} on {data.on.isoformat()} is already recorded on "
                       f"case {case.reference}", field="kind")
    if case.kind == "threat_assessment":
        await _prompt_precipitating_review(session, actor, case, today)
    return raised


async def _prompt_precipitating_review(session: AsyncSession, actor: Actor, case: Case, today: dt.date) -> None:
    """On a threat-assessment case a precipitating event brings the plan's P-domain items up for
    review today (the exhibit: "prepare for and mitigate precipitating events")."""
    prompted = await session.execute(
        update(Task).where(Task.case_id == case.id, Task.domain == "precipitating_events",
                           Task.status.not_in(CLOSED_STATUSES), Task.strategy.is_not(None))
        .values(review_on=today, version=Task.version + 1))
    if prompted.rowcount:
        await audit.record(session, actor, "plan.review_prompted", case_id=case.id, subject=f"case:{case.id}",
                           items=prompted.rowcount)
        events.case_changed(session, case.id, "tasks")


async def case_events(session: AsyncSession, case_id: int, *, listed_only: bool = False,
                      limit: int | None = None) -> list[RaisedEvent]:
    """The case's events, newest first; ``listed_only`` leaves out those the case page does not
    list, ``limit`` keeps the latest that many."""
    query = select(RaisedEvent).where(RaisedEvent.case_id == case_id)
    if listed_only:
        query = query.where(RaisedEvent.event.not_in(NOT_LISTED))
    return list((await session.execute(query.order_by(RaisedEvent.id.desc()).limit(limit))).scalars())
