"""The survivor's safety plan: one per case, versioned, owned by the agency holding safety
planning in the role map, and shared through the consent gate like any other information.

The plan is an information item of the core category ``case.safety_plan`` whose text holds the
plan's sections as JSON; a new version supersedes the current one as a correction does. This
module writes the text and reads it back only through the gate.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, gate, policy
from coordinator.errors import Conflict, Invalid
from coordinator.gate import ItemView
from coordinator.limits import Id, Text
from coordinator.models import Case, InformationItem, RoleAssignment, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

CATEGORY = "case.safety_plan"
RESPONSIBILITY = "safety_planning"
MAX_SECTION = 4_000
# The DV article's headings, in the order a plan is talked through with the survivor.
SECTIONS = {
    "safe_places": "Safe places",
    "escape_routes": "Escape routes",
    "emergency_contacts": "Emergency contacts",
    "children": "Children",
    "digital_safety": "Digital safety",
    "support": "Support",
}
# Threat-assessment cases add the target-based strategies (TAT).
THREAT_SECTIONS = {"target_strategies": "Target-based strategies"}
THREAT_KINDS = ("threat_assessment",)


@dataclass
class SafetyPlanIn:
    """A new version of the plan. ``supersedes_id`` is the version the writer saw (None when there
    was no plan yet): a plan changed meanwhile is refused, never overwritten."""

    review_on: Annotated[dt.date, Meta(description="enter the review-by date")]
    supersedes_id: Id | None = None
    safe_places: Text(MAX_SECTION) = ""
    escape_routes: Text(MAX_SECTION) = ""
    emergency_contacts: Text(MAX_SECTION) = ""
    children: Text(MAX_SECTION) = ""
    digital_safety: Text(MAX_SECTION) = ""
    support: Text(MAX_SECTION) = ""
    target_strategies: Text(MAX_SECTION) = ""


@dataclass(frozen=True)
class PlanView:
    """One version of the plan as one agency may see it: ``item`` from the gate (withheld or not)."""

    item: ItemView
    review_on: dt.date | None

    @property
    def fields(self) -> dict[str, str]:
        """The sections by key, to start the next version from (empty when withheld)."""
        return {} if self.item.withheld else (stored_fields(self.item.text) or {})


def section_labels(case_kind: str) -> dict[str, str]:
    """The sections a plan of this kind of case has."""
    return {**SECTIONS, **THREAT_SECTIONS} if case_kind in THREAT_KINDS else dict(SECTIONS)


def stored_fields(text: str | None) -> dict[str, str] | None:
    """The named parts of an item stored as JSON (a plan's sections, a follow-up's notes), or
    None for text that is not (then it is shown as it is)."""
    try:
        stored = json.loads(text or "")
    except ValueError:
        return None
    return {str(k): str(v) for k, v in stored.items() if v} if isinstance(stored, dict) else None


def labelled(text: str | None, labels: dict[str, str], fallback: str) -> list[tuple[str, str]]:
    """Stored parts as (heading, text) pairs in the stored order, the empty ones left out."""
    stored = stored_fields(text)
    if stored is None:
        return [(fallback, text or "")]
    return [(labels.get(key, key), value) for key, value in stored.items()]


def plan_sections(text: str | None) -> list[tuple[str, str]]:
    return labelled(text, {**SECTIONS, **THREAT_SECTIONS}, "Plan")


async def role_holder(session: AsyncSession, case_id: int, responsibility: str) -> RoleAssignment | None:
    """The current, confirmed assignment of ``responsibility`` on the case, if any."""
    return (await session.execute(
        select(RoleAssignment).where(
            RoleAssignment.case_id == case_id, RoleAssignment.responsibility == responsibility,
            RoleAssignment.status == "confirmed", RoleAssignment.ended_at.is_(None))
        .order_by(RoleAssignment.id.desc()).limit(1)
    )).scalar()


async def holder(session: AsyncSession, case_id: int) -> str | None:
    """The agency holding safety planning on the case, if any."""
    assignment = await role_holder(session, case_id, RESPONSIBILITY)
    return assignment.agency if assignment else None


async def current_id(session: AsyncSession, case_id: int, category: str = CATEGORY) -> int | None:
    return (await session.execute(
        select(InformationItem.id).where(InformationItem.case_id == case_id, InformationItem.category == category,
                                         InformationItem.superseded.is_(False))
        .order_by(InformationItem.id.desc()).limit(1)
    )).scalar()


def _checked_sections(case: Case, plan_in: SafetyPlanIn) -> dict[str, str]:
    labels = section_labels(case.kind)
    if plan_in.target_strategies.strip() and "target_strategies" not in labels:
        raise Invalid("target-based strategies belong to threat-assessment cases only", field="target_strategies")
    sections = {key: getattr(plan_in, key).strip() for key in labels}
    if not any(sections.values()):
        raise Invalid("write at least one section of the plan", field="safe_places")
    return sections


def _stale(what: str, seen: int | None, current: int | None) -> Conflict:
    now = f"version #{current} is current" if current else "there is none now"
    saw = f"you saw version #{seen}" if seen else "you saw none"
    return Conflict(f"someone else changed {what} meanwhile ({saw}; {now}): check it and try again",
                    field="supersedes_id")


async def new_version(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case, *, category: str,
                      what: str, owner: str, seen: int | None, text: str,
                      review_on: dt.date | None = None) -> InformationItem:
    """A new version of the case's one item of ``category`` (``what`` names it to the writer),
    superseding the version the writer saw: one changed meanwhile is refused, never overwritten."""
    # The case row is locked first, so two first versions written at once cannot both find none.
    await session.execute(update(Case).where(Case.id == case.id).values(version=Case.version))
    current = await current_id(session, case.id, category)
    if current != seen:
        raise _stale(what, seen, current)
    lineage = None
    if current is not None:
        marked = await session.execute(
            update(InformationItem).where(InformationItem.id == current, InformationItem.superseded.is_(False))
            .values(superseded=True))
        if marked.rowcount != 1:
            raise _stale(what, seen, await current_id(session, case.id, category))
        lineage = (await session.execute(
            select(InformationItem.lineage_id).where(InformationItem.id == current))).scalar() or current
    item = InformationItem(
        case_id=case.id, agency=owner, category=category, nature="fact",
        sensitivity=registry.category(category).sensitivity, text=text,
        recorded_by_id=actor.id, review_on=review_on, supersedes_id=current, lineage_id=lineage,
    )
    session.add(item)
    await session.flush()
    item.lineage_id = lineage or item.id
    events.case_changed(session, case.id, "items")
    return item


async def write_plan(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                     plan_in: SafetyPlanIn) -> InformationItem:
    """A new version of the case's safety plan, owned by the agency holding safety planning (a
    coordinator writes on its behalf); it supersedes the version the writer saw."""
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    owner = await holder(session, case.id)
    if owner is None:
        raise Conflict(f"no agency holds safety planning on case {case.reference}: assign it in the role map first")
    policy.require_safety_plan_writer(actor, case, owner, registry.name(owner))
    if plan_in.review_on < utcnow().date():
        raise Invalid("the review-by date is in the past", field="review_on")
    sections = _checked_sections(case, plan_in)
    item = await new_version(session, registry, actor, case, category=CATEGORY, what="the safety plan", owner=owner,
                             seen=plan_in.supersedes_id, text=json.dumps(sections, ensure_ascii=False),
                             review_on=plan_in.review_on)
    await audit.record(session, actor, "safety_plan.written", case_id=case.id, subject=f"item:{item.id}",
                       owner=owner, supersedes=item.supersedes_id, review_on=plan_in.review_on)
    return item


async def _views(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int, ids: list[int], *,
                 channel: str) -> list[PlanView]:
    if not ids:
        return []
    review = dict((await session.execute(
        select(InformationItem.id, InformationItem.review_on).where(InformationItem.id.in_(ids)))).all())
    views = await gate.visible_items(session, registry, viewer, case_id, channel=channel, item_ids=ids,
                                     include_superseded=True)
    return [PlanView(item=view, review_on=review.get(view.id)) for view in views]


async def current_plan(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case: Case, *,
                       channel: str) -> PlanView | None:
    """The current plan as the viewer's agency may see it (a placeholder when withheld); the
    disclosure is audited in the caller's transaction."""
    found = await current_id(session, case.id)
    views = await _views(session, registry, viewer, case.id, [found] if found else [], channel=channel)
    return views[0] if views else None


async def plan_history(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int, *,
                       channel: str) -> list[PlanView]:
    """Every version of the case's plan, oldest first, as the viewer's agency may see them."""
    case = await cases.case_for(session, viewer, case_id)
    ids = list((await session.execute(
        select(InformationItem.id).where(InformationItem.case_id == case.id, InformationItem.category == CATEGORY)
    )).scalars())
    return await _views(session, registry, viewer, case.id, ids, channel=channel)
