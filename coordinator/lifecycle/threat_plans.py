"""Threat-assessment cases: the case-management plan chosen from the strategy catalogue, the
warning when a separation is not coupled with containment and support, the monitoring status,
and the contact log.

Plan items are tasks (source ``plan``, ``strategy`` the catalogue key), so their owner, status,
version checks and history are the task's own: only the owning agency or a coordinator changes
them. The contact log is information like any other: items of the core category
``case.contact_log`` owned by the recording agency, read only through the consent gate.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, gate, policy, tasks
from coordinator.errors import Conflict, Invalid
from coordinator.gate import ItemView
from coordinator.lifecycle import strategies
from coordinator.lifecycle.safety_plans import labelled, stored_fields
from coordinator.lifecycle.strategies import Entry
from coordinator.limits import Count, Id, Installed, Key, Line, OneOf, Text, Written, WrittenLine
from coordinator.models import Case, InformationItem, PlanAcknowledgement, Task, TaskEvent, User
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.tasks import TaskIn

KIND = "threat_assessment"
PLAN_SOURCE = "plan"
NOT_IN_PLAN = ("not_applicable",)  # an item set aside no longer counts in the plan
CONTACT_CATEGORY = "case.contact_log"
CONTACT_ABOUT = ("subject", "target")
CHANNELS = ("in_person", "phone", "text", "email", "social_media", "letter", "other")
CONTACT_LABELS = {"about": "About", "on": "Date", "who": "Who", "channel": "Channel", "reaction": "Reaction",
                  "grievances": "Grievances raised"}
MONITORING = ("active", "long_term", "closed")
MAX_REVIEW_DAYS = 3650
MAX_NOTE = 4_000
# The exhibit's own words, shown at the plan and in the conference.
SEPARATION_WARNING = ("Suspension, expulsion or termination may risk triggering an immediate or delayed violent "
                      "response unless they are coupled with containment and support.")


@dataclass
class PlanItemIn:
    """A strategy of the catalogue chosen for the plan (``detail``: one of its sub-strategies), given to
    an agency on the case that delivers it. ``keep_reason`` says why the plan may keep a separation
    without containment or support of the subject, when this item leaves it so."""

    strategy: Installed("strategies", 120)
    agency: Key
    detail: Line(500) | None = None
    assignee_id: Id | None = None
    due_on: dt.date | None = None
    review_on: dt.date | None = None
    keep_reason: Text(MAX_NOTE) | None = None


@dataclass
class KeepReasonIn:
    reason: Written(MAX_NOTE, "say why the plan keeps the separation without containment or support")


@dataclass
class MonitoringIn:
    """The case's monitoring status; long-term monitoring comes back to the agenda every ``review_days``."""

    version: Count
    status: OneOf(MONITORING)
    review_days: Annotated[int, Meta(ge=1, le=MAX_REVIEW_DAYS)] | None = None


@dataclass
class MonitoringReviewIn:
    version: Count


@dataclass
class ContactIn:
    """A contact with the subject or the target, as the exhibit asks: "document all further contacts"."""

    about: OneOf(CONTACT_ABOUT)
    on: dt.date
    who: WrittenLine(200, "say who was in contact")
    channel: OneOf(CHANNELS)
    reaction: Text(MAX_NOTE) = ""
    grievances: Text(MAX_NOTE) = ""


@dataclass(frozen=True)
class PlanItem:
    task: Task
    entry: Entry | None  # None: the agency that contributed the strategy is no longer installed

    @property
    def kind(self) -> str:
        return self.entry.kind if self.entry else "other"


@dataclass(frozen=True)
class KeptReason:
    """Why the team keeps a plan with a separation alone, as recorded (a value, so a view that
    carries it can be sent as JSON)."""

    reason: str
    by_id: int
    at: dt.datetime


@dataclass(frozen=True)
class PlanWarning:
    """The plan holds a separation without containment or support of the subject; ``kept`` is the
    reason recorded for this very plan, if any (a later change to the plan needs a new one)."""

    separations: list[str]
    kept: KeptReason | None
    kept_by: str | None

    message = SEPARATION_WARNING


@dataclass(frozen=True)
class Plan:
    items: list[PlanItem]
    warning: PlanWarning | None

    def by_domain(self) -> dict[str, list[PlanItem]]:
        grouped: dict[str, list[PlanItem]] = {domain: [] for domain in strategies.DOMAIN_LABELS}
        for item in self.items:
            grouped.setdefault(item.task.domain, []).append(item)
        return grouped


def _require_threat(case: Case, doing: str) -> None:
    if case.kind != KIND:
        raise Conflict(f"case {case.reference} is not a threat-assessment case: it has no {doing}")


async def threat_case(session: AsyncSession, actor: Actor, case_id: int, doing: str, *, write: bool = False) -> Case:
    """The threat-assessment case, if the actor may see it; for a change, open (a closed case says so first,
    whatever its kind)."""
    case = await cases.case_for(session, actor, case_id)
    if write:
        cases.ensure_open(case)
    _require_threat(case, doing)
    return case


# --- the plan ------------------------------------------------------------------------------------

async def _plan_tasks(session: AsyncSession, case_id: int) -> list[Task]:
    return list((await session.execute(
        select(Task).where(Task.case_id == case_id, Task.strategy.is_not(None)).order_by(Task.id)
        .execution_options(populate_existing=True))).scalars())


def plan_agencies(plan: list[Task]) -> set[str]:
    """The agencies that deliver the plan's items (the team that answers for the plan)."""
    return {task.agency for task in plan}


@dataclass(frozen=True)
class _Held:
    """What the separation rule reads of one plan item: its strategy, and its status since when."""

    strategy: str
    status: str
    added_at: dt.datetime
    status_at: dt.datetime


async def _held(session: AsyncSession, case_id: int, at: dt.datetime | None) -> list[_Held]:
    """The plan's items as they stand, or as they stood at ``at`` (the minutes: when the meeting ended)."""
    plan_tasks = [t for t in await _plan_tasks(session, case_id) if at is None or t.created_at <= at]
    if at is None:
        return [_Held(t.strategy, t.status, t.created_at, t.updated_at) for t in plan_tasks]
    statuses = {task_id: (status, when) for task_id, status, when in (await session.execute(
        select(TaskEvent.task_id, TaskEvent.status, TaskEvent.at)
        .where(TaskEvent.task_id.in_([t.id for t in plan_tasks]), TaskEvent.at <= at).order_by(TaskEvent.id))).all()}
    held = []
    for task in plan_tasks:
        status, since = statuses.get(task.id, ("open", task.created_at))
        held.append(_Held(task.strategy, status, task.created_at, since))
    return held


def _counted_keys(held: list) -> list[str]:
    """The strategy keys the plan holds (items set aside do not count); ``held`` are tasks or _Held."""
    return sorted({h.strategy for h in held if h.status not in NOT_IN_PLAN})


def _last_change(held: list[_Held]) -> dt.datetime | None:
    """When the plan last changed what it holds: an item added, or one set aside."""
    return max((h.status_at if h.status in NOT_IN_PLAN else h.added_at for h in held), default=None)


async def _kept_for(session: AsyncSession, case_id: int, held: list[_Held],
                    at: dt.datetime | None = None) -> PlanAcknowledgement | None:
    """The reason recorded for the plan as it stands (or stood at ``at``): for these strategies, and since the
    plan last changed (a plan that comes back to what it once was after a change needs the reason again)."""
    keys, since = _counted_keys(held), _last_change(held)
    query = select(PlanAcknowledgement).where(PlanAcknowledgement.case_id == case_id)
    if at is not None:
        query = query.where(PlanAcknowledgement.at <= at)
    latest = (await session.execute(query.order_by(PlanAcknowledgement.id.desc()).limit(1))).scalar()
    if latest is None or json.loads(latest.strategies) != keys or (since is not None and latest.at < since):
        return None
    return latest


def _uncoupled(registry: AgencyRegistry, keys: list[str]) -> list[Entry] | None:
    """The separations of a plan of these strategy keys left without containment or support, or None."""
    catalogue = strategies.catalogue(registry)
    entries = [catalogue[key] for key in keys if key in catalogue]
    if not strategies.separation_uncoupled(entries):
        return None
    return [e for e in entries if e.kind == strategies.SEPARATION]


async def plan_warning(session: AsyncSession, registry: AgencyRegistry, case_id: int, *,
                       at: dt.datetime | None = None) -> PlanWarning | None:
    """The separation warning of the case's plan as it stands (or as it stood at ``at``: the minutes give the
    meeting's end), with the reason kept for it if any: what the plan, the conference and the minutes show."""
    held = await _held(session, case_id, at)
    separations = _uncoupled(registry, _counted_keys(held))
    if separations is None:
        return None
    kept = await _kept_for(session, case_id, held, at)
    kept_by = (await session.get(User, kept.by_id)).display_name if kept else None
    return PlanWarning([e.title for e in separations], kept and KeptReason(kept.reason, kept.by_id, kept.at), kept_by)


async def case_plan(session: AsyncSession, registry: AgencyRegistry, case_id: int) -> Plan:
    catalogue = strategies.catalogue(registry)
    plan_tasks = await _plan_tasks(session, case_id)
    return Plan([PlanItem(t, catalogue.get(t.strategy)) for t in plan_tasks],
                await plan_warning(session, registry, case_id))


async def plan_for(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int) -> Plan:
    """The case's plan, for anyone who may see the case (plan items are tasks: membership-gated)."""
    case = await threat_case(session, actor, case_id, "case-management plan")
    return await case_plan(session, registry, case.id)


def _checked_item(registry: AgencyRegistry, item_in: PlanItemIn, today: dt.date) -> Entry:
    entry = strategies.catalogue(registry).get(item_in.strategy)
    if entry is None:
        raise Invalid(f"no strategy {item_in.strategy!r} is in the catalogue of the installed agencies",
                      field="strategy")
    detail = (item_in.detail or "").strip() or None
    if detail is not None and entry.detail(detail) is None:
        raise Invalid(f"{detail!r} is not one of the forms of {entry.title!r}", field="detail")
    if item_in.agency not in registry:
        raise Invalid(f"no agency {item_in.agency!r} is installed", field="agency")
    if not entry.delivered_by(item_in.agency, detail):
        raise Invalid(f"{registry.name(item_in.agency)} does not deliver {_title(entry, detail)!r}", field="agency")
    for name in ("due_on", "review_on"):
        if (getattr(item_in, name) or today) < today:
            raise Invalid("the date is in the past", field=name)
    return entry


def _title(entry: Entry, detail: str | None) -> str:
    return f"{entry.title}: {detail}" if detail else entry.title


async def add_plan_item(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                        item_in: PlanItemIn, today: dt.date) -> Task:
    """A strategy of the catalogue becomes a plan item of the agency that delivers it. Only that agency or
    a coordinator adds it, as only they change it; a plan it would leave with a separation and no
    containment or support of the subject needs the reason it is kept so."""
    case = await threat_case(session, actor, case_id, "case-management plan", write=True)
    policy.require_task_change(actor, case, item_in.agency, registry.name(item_in.agency))
    entry = _checked_item(registry, item_in, today)
    detail = (item_in.detail or "").strip() or None
    keys = sorted({*_counted_keys(await _plan_tasks(session, case.id)), entry.key})
    reason = (item_in.keep_reason or "").strip()
    # A new item changes the plan: a reason given for the plan before it does not cover the plan after.
    needs_reason = _uncoupled(registry, keys) is not None
    if needs_reason and not reason:
        raise Invalid(f"{SEPARATION_WARNING} Add a containment or support strategy for the subject, or say why the "
                      "plan keeps the separation without them", field="keep_reason")
    task = await tasks.assign_task(session, registry, actor, case.id, TaskIn(
        agency=item_in.agency, title=_title(entry, detail), domain=entry.domain, due_on=item_in.due_on,
        assignee_id=item_in.assignee_id), source=PLAN_SOURCE)
    task.strategy, task.review_on = entry.key, item_in.review_on
    await session.flush()
    await audit.record(session, actor, "plan.item_added", case_id=case.id, subject=f"task:{task.id}",
                       strategy=entry.key, kind=entry.kind, review_on=item_in.review_on)
    events.case_changed(session, case.id, "case")  # the plan's warning shows with the case
    if needs_reason:
        await _keep(session, actor, case.id, keys, reason)
    return task


async def _keep(session: AsyncSession, actor: Actor, case_id: int, keys: list[str], reason: str) -> None:
    kept = PlanAcknowledgement(case_id=case_id, reason=reason, strategies=json.dumps(keys), by_id=actor.id)
    session.add(kept)
    await session.flush()
    # The reason is free text: the audit names the record, never its words.
    await audit.record(session, actor, "plan.separation_kept", case_id=case_id,
                       subject=f"plan_acknowledgement:{kept.id}", strategies=keys)
    events.case_changed(session, case_id, "tasks", "case")  # the plan's warning shows with the case


async def keep_separation(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                          keep_in: KeepReasonIn) -> PlanWarning:
    """Record why the plan, as it stands, keeps a separation without containment or support."""
    case = await threat_case(session, actor, case_id, "case-management plan", write=True)
    plan = await _plan_tasks(session, case.id)
    policy.require_plan_keeper(actor, case, plan_agencies(plan))
    reason = keep_in.reason.strip()
    if not reason:
        raise Invalid("say why the plan keeps the separation without containment or support", field="reason")
    keys = _counted_keys(plan)
    if _uncoupled(registry, keys) is None:
        raise Conflict("the plan holds no separation without containment or support: there is nothing to explain",
                       field="reason")
    await _keep(session, actor, case.id, keys, reason)
    return await plan_warning(session, registry, case.id)


def review_now(task: Task, today: dt.date) -> bool:
    """A plan item due for review (a precipitating event brings the P-domain items up today)."""
    return task.status not in tasks.CLOSED_STATUSES and task.review_on is not None and task.review_on <= today


# --- monitoring ------------------------------------------------------------------------------------

async def _set_monitoring(session: AsyncSession, case: Case, seen: int, **values: object) -> None:
    changed = await session.execute(
        update(Case).where(Case.id == case.id, Case.version == seen).values(version=seen + 1, **values))
    if changed.rowcount != 1:
        await session.refresh(case)
        raise Conflict(f"case {case.reference} was changed by someone else meanwhile (you saw version {seen}, it is "
                       f"now version {case.version}): check it and try again", field="version")
    events.case_changed(session, case.id, "case")


async def set_monitoring(session: AsyncSession, actor: Actor, case_id: int, monitoring_in: MonitoringIn,
                         today: dt.date) -> Case:
    """Active, long-term (back on the agenda every ``review_days``: the first review that many days from
    today) or closed. Monitoring a subject no longer connected to the district is long-term monitoring, not
    a closure of the case."""
    case = await threat_case(session, actor, case_id, "monitoring status", write=True)
    policy.require_monitoring_setter(actor, case, "set a case's monitoring status")
    days = monitoring_in.review_days
    if monitoring_in.status == "long_term" and days is None:
        raise Invalid("long-term monitoring needs a review interval in days", field="review_days")
    if monitoring_in.status != "long_term" and days is not None:
        raise Invalid("only long-term monitoring has a review interval", field="review_days")
    review_on = today + dt.timedelta(days=days) if days else None
    await _set_monitoring(session, case, monitoring_in.version, monitoring_status=monitoring_in.status,
                          monitoring_review_days=days, monitoring_review_on=review_on)
    await audit.record(session, actor, "case.monitoring_set", case_id=case.id, subject=f"case:{case.id}",
                       status=monitoring_in.status, review_days=days, review_on=review_on)
    return await cases.load_case(session, case.id)


async def record_monitoring_review(session: AsyncSession, actor: Actor, case_id: int, review_in: MonitoringReviewIn,
                                   today: dt.date) -> Case:
    """The team reviewed a case in long-term monitoring: the next review is one interval later."""
    case = await threat_case(session, actor, case_id, "monitoring status", write=True)
    policy.require_monitoring_setter(actor, case, "record a monitoring review")
    if case.monitoring_status != "long_term" or not case.monitoring_review_days:
        raise Conflict(f"case {case.reference} is not in long-term monitoring: it has no review to record",
                       field="version")
    # One interval on from the review that was due (or from today, when it is recorded late): a review held
    # early does not pull the next one forward, nor repeat the date just raised.
    review_on = max(today, case.monitoring_review_on or today) + dt.timedelta(days=case.monitoring_review_days)
    await _set_monitoring(session, case, review_in.version, monitoring_review_on=review_on)
    await audit.record(session, actor, "case.monitoring_reviewed", case_id=case.id, subject=f"case:{case.id}",
                       next_review_on=review_on)
    return await cases.load_case(session, case.id)


# --- the contact log ---------------------------------------------------------------------------------

def contact_sections(text: str | None) -> list[tuple[str, str]]:
    """A contact-log entry as (heading, text) pairs, the stored keys (``in_person``) as words."""
    worded = (CONTACT_LABELS["about"], CONTACT_LABELS["channel"])
    return [(heading, value.replace("_", " ") if heading in worded else value)
            for heading, value in labelled(text, CONTACT_LABELS, "Contact")]


def contact_fields(view: ItemView) -> dict[str, str] | None:
    """An entry's fields as the gate let the viewer see them (None when withheld)."""
    return None if view.withheld else stored_fields(view.text)


async def record_contact(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                         contact_in: ContactIn, today: dt.date) -> InformationItem:
    """An agency on the case logs a contact with the subject or the target; the entry is its own information."""
    case = await threat_case(session, actor, case_id, "contact log", write=True)
    policy.require_contact_logger(actor, case, cases.agencies_of(case))
    if contact_in.on > today:
        raise Invalid("log a contact once it has happened: the date is in the future", field="on")
    if not contact_in.who.strip():
        raise Invalid("say who was in contact", field="who")
    entry = {"about": contact_in.about, "on": contact_in.on.isoformat(), "who": contact_in.who.strip(),
             "channel": contact_in.channel, "reaction": contact_in.reaction.strip(),
             "grievances": contact_in.grievances.strip()}
    item = InformationItem(case_id=case.id, agency=actor.agency, category=CONTACT_CATEGORY, nature="fact",
                           sensitivity=registry.category(CONTACT_CATEGORY).sensitivity,
                           text=json.dumps({k: v for k, v in entry.items() if v}, ensure_ascii=False),
                           recorded_by_id=actor.id)
    session.add(item)
    await session.flush()
    item.lineage_id = item.id
    await audit.record(session, actor, "contact_log.recorded", case_id=case.id, subject=f"item:{item.id}",
                       about=contact_in.about, channel=contact_in.channel, on=contact_in.on)
    events.case_changed(session, case.id, "items")
    return item


async def contact_log(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case: Case, *,
                      channel: str) -> list[ItemView]:
    """The case's contact-log entries, oldest first, as the viewer's agency may see them (placeholders when
    withheld); the disclosures are audited in the caller's transaction."""
    ids = list((await session.execute(
        select(InformationItem.id).where(InformationItem.case_id == case.id,
                                         InformationItem.category == CONTACT_CATEGORY))).scalars())
    if not ids:
        return []
    return await gate.visible_items(session, registry, viewer, case.id, channel=channel, item_ids=ids)


async def contact_log_for(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int, *,
                          channel: str) -> list[ItemView]:
    case = await threat_case(session, viewer, case_id, "contact log")
    return await contact_log(session, registry, viewer, case, channel=channel)
