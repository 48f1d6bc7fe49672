"""Overrides: sharing without consent on a legal basis, once a supervisor other than the
requester approves; loud, rare and audited. What they let an agency see is decided by the
consent gate (coordinator.gate)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, cases, events, notifications, policy
from coordinator.consents import aware, case_to_change, record_on_case, required_text, scope_pairs
from coordinator.errors import Conflict, Invalid
from coordinator.gate import override_in_force
from coordinator.limits import MAX_TEXT, Category, Key, ListOf, OneOf, Text, Written
from coordinator.models import Case, Override, OverrideScope, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

LEGAL_BASES = {
    "risk_to_life": "Risk to life",
    "child_protection": "Child protection",
    "crime_prevention": "Prevention or detection of crime",
    "court_order": "Court order",
    "mandatory_reporting": "Mandatory reporting",
}
DECISIONS = ("approve", "refuse")


@dataclass
class OverrideIn:
    legal_basis: OneOf(LEGAL_BASES, "name the legal basis: " + ", ".join(LEGAL_BASES.values()))
    justification: Written(MAX_TEXT, "the justification is required")
    categories: ListOf(100, Category, at_least=1, refusal="choose at least one category of information")
    recipients: ListOf(50, Key, at_least=1, refusal="choose at least one agency to share with")
    expires_at: dt.datetime


@dataclass
class OverrideDecisionIn:
    decision: OneOf(DECISIONS)
    note: Text() = ""


@dataclass
class SurvivorNoticeIn:
    """Whether the survivor was told of an override: when, or why not."""

    informed: bool
    informed_at: dt.datetime | None = None  # default: now
    reason: Text() | None = None


async def request_override(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                           override_in: OverrideIn) -> Override:
    """Ask to share without consent on a legal basis. It grants nothing until approved."""
    case = await case_to_change(session, actor, case_id)
    if override_in.legal_basis not in LEGAL_BASES:
        raise Invalid("name the legal basis: " + ", ".join(LEGAL_BASES.values()), field="legal_basis")
    justification = required_text(override_in.justification, "justification", "the justification")
    expires_at = aware(override_in.expires_at, "expires_at")
    if expires_at is None or expires_at <= utcnow():
        raise Invalid("an override needs an expiry in the future", field="expires_at")
    pairs = scope_pairs(registry, override_in.categories, override_in.recipients)
    override = Override(case_id=case.id, legal_basis=override_in.legal_basis, justification=justification,
                        requested_by_id=actor.id, expires_at=expires_at,
                        scopes=[OverrideScope(category=c, recipient=r) for c, r in pairs])
    session.add(override)
    await session.flush()
    await audit.record(session, actor, "override.requested", case_id=case.id, subject=f"override:{override.id}",
                       legal_basis=override.legal_basis, expires_at=expires_at, scopes=[list(p) for p in pairs])
    await notifications.notify(session, notifications.case_notice(
        "override_awaiting", f"override:{override.id}:requested", case.id, case.reference),
        users=await notifications.supervisors(session), not_to=actor.id)
    events.case_changed(session, case.id, "overrides")
    return override


async def decide_override(session: AsyncSession, actor: Actor, case_id: int, override_id: int,
                          decision_in: OverrideDecisionIn) -> Override:
    """A supervisor who is not the requester approves or refuses a requested override."""
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    override = await record_on_case(session, Override, case.id, override_id)
    if decision_in.decision not in DECISIONS:
        raise Invalid("decide to approve or refuse", field="decision")
    policy.require_override_decider(actor, override.requested_by_id)
    if override.status != "requested":
        raise Conflict(f"override {override.id} was {override.status} already")
    now = utcnow()
    if decision_in.decision == "approve":
        if override.expires_at <= now:
            raise Conflict(f"override {override.id} expired before it was approved: request a new one")
    # Decided only if still requested, so two supervisors deciding at once cannot both win.
    decided = await session.execute(
        update(Override).where(Override.id == override.id, Override.status == "requested")
        .values(status="approved" if decision_in.decision == "approve" else "refused", decided_by_id=actor.id,
                decided_at=now, decision_note=(decision_in.note or "").strip() or None)
    )
    if decided.rowcount != 1:
        raise Conflict(f"override {override.id} was decided by someone else meanwhile: reload to see the decision")
    await audit.record(session, actor, f"override.{override.status}", case_id=case.id,
                       subject=f"override:{override.id}")
    await notifications.notify(session, notifications.case_notice(
        "override_decided", f"override:{override.id}:decided", case.id, case.reference),
        users=[override.requested_by_id])
    events.case_changed(session, case.id, "overrides")
    return override


async def record_survivor_notice(session: AsyncSession, actor: Actor, case_id: int, override_id: int,
                                 notice: SurvivorNoticeIn) -> Override:
    """Record that the survivor was told of an override (and when), or why they were not."""
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    override = await record_on_case(session, Override, case.id, override_id)
    policy.require_survivor_notice_recorder(actor, case, override.requested_by_id)
    now = utcnow()
    if notice.informed:
        informed_at = aware(notice.informed_at, "informed_at") or now
        if informed_at > now:
            raise Invalid("the survivor cannot have been told in the future", field="informed_at")
        override.survivor_informed, override.survivor_informed_at = True, informed_at
        override.not_informed_reason = None
    else:
        reason = required_text(notice.reason or "", "reason", "the reason the survivor was not told")
        override.survivor_informed, override.survivor_informed_at = False, None
        override.not_informed_reason = reason
    await audit.record(session, actor, "override.survivor_notice", case_id=case.id, subject=f"override:{override.id}",
                       informed=override.survivor_informed, informed_at=override.survivor_informed_at)
    events.case_changed(session, case.id, "overrides")
    return override


async def case_overrides(session: AsyncSession, actor: Actor, case_id: int) -> list[Override]:
    """The case's overrides, newest first, with their scopes (the actor must see the case)."""
    case = await cases.case_for(session, actor, case_id)
    return list((await session.execute(
        select(Override).where(Override.case_id == case.id).options(selectinload(Override.scopes))
        .order_by(Override.id.desc())
    )).scalars())


def override_status(override: Override, now: dt.datetime) -> str:
    """requested, refused, in_force or expired, by the gate's own rule."""
    if override_in_force(override.status, override.decided_at, override.expires_at, now):
        return "in_force"
    if override.status == "approved":
        return "expired"
    return override.status


async def awaiting_decision(session: AsyncSession) -> list[tuple[Override, str]]:
    """Overrides requested and not yet decided, oldest first, with their case reference: a
    supervisor's queue."""
    return [tuple(row) for row in (await session.execute(
        select(Override, Case.reference).join(Case, Case.id == Override.case_id)
        .where(Override.status == "requested", Case.closed_at.is_(None)).order_by(Override.requested_at)
    )).all()]
