"""The survivor's consent to share and its withdrawal; overrides, which share without consent on
a legal basis once a supervisor other than the requester approves them.

This module records them; what they let an agency see is decided by the consent gate
(coordinator.sharing), which reads these records at every request, so a withdrawal or an expiry
takes effect at the next view on every path.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, cases
from coordinator.audit import Actor
from coordinator.errors import Conflict, Forbidden, Invalid, NotFound
from coordinator.models import (
    Case,
    Consent,
    ConsentScope,
    ConsentWithdrawal,
    Override,
    OverrideScope,
    User,
    utcnow,
)
from coordinator.plugins import AgencyRegistry
from coordinator.sharing import consent_in_force, override_in_force

METHODS = ("written", "verbal")
LEGAL_BASES = {
    "risk_to_life": "Risk to life",
    "child_protection": "Child protection",
    "crime_prevention": "Prevention or detection of crime",
    "court_order": "Court order",
    "mandatory_reporting": "Mandatory reporting",
}
DECISIONS = ("approve", "refuse")
APPROVER_ROLE = "supervisor"


@dataclass
class ConsentIn:
    """Consent as the case worker records it. The scope is every category × every recipient."""

    purpose: str
    method: str
    given_by: str
    categories: list[str]
    recipients: list[str]
    given_at: dt.datetime | None = None  # default: now
    expires_at: dt.datetime | None = None  # default: until withdrawn


@dataclass
class WithdrawalIn:
    """Withdraw the listed scopes of a consent, or all of them when none are listed."""

    scope_ids: list[int] = field(default_factory=list)
    note: str = ""


@dataclass
class OverrideIn:
    legal_basis: str
    justification: str
    categories: list[str]
    recipients: list[str]
    expires_at: dt.datetime


@dataclass
class OverrideDecisionIn:
    decision: str  # approve, refuse
    note: str = ""


@dataclass
class SurvivorNoticeIn:
    """Whether the survivor was told of an override: when, or why not."""

    informed: bool
    informed_at: dt.datetime | None = None  # default: now
    reason: str | None = None


# --- who may do what -----------------------------------------------------------------------

def is_case_worker(actor: Actor, case: Case) -> bool:
    """Who acts for the survivor on a case: a coordinating role, the person who referred the
    case, or a member of its lead agency."""
    return (actor.role in cases.COORDINATING_ROLES or actor.id == case.created_by_id
            or (case.lead_agency is not None and actor.agency == case.lead_agency))


def _require_case_worker(actor: Actor, case: Case, doing: str) -> None:
    if not is_case_worker(actor, case):
        raise Forbidden(f"only the survivor's case worker (a coordinator or the lead agency) can {doing}")


# --- input checks ----------------------------------------------------------------------------

def _aware(value: dt.datetime | None, field_name: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise Invalid("give the time with its time zone, e.g. 2026-12-01T17:00:00Z", field=field_name)
    return value


def _required(value: str, field_name: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(f"{what} is required", field=field_name)
    return value


def _scope_pairs(registry: AgencyRegistry, categories: list[str], recipients: list[str]) -> list[tuple[str, str]]:
    """Every (category, recipient) pair, checked against the installed agencies. An agency
    always sees its own information, so pairs naming the owner as recipient are left out."""
    if not categories:
        raise Invalid("choose at least one category of information", field="categories")
    if not recipients:
        raise Invalid("choose at least one agency to share with", field="recipients")
    for category in categories:
        if registry.category(category) is None:
            raise Invalid(f"no information category {category!r} is declared by an installed agency",
                          field="categories")
    for recipient in recipients:
        if recipient not in registry:
            raise Invalid(f"no agency {recipient!r} is installed", field="recipients")
    pairs = [(c, r) for c in dict.fromkeys(categories) for r in dict.fromkeys(recipients)
             if not c.startswith(f"{r}.")]
    if not pairs:
        raise Invalid("an agency always sees its own information: choose another agency to share with",
                      field="recipients")
    return pairs


async def _case_to_change(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    return case


# --- consent -------------------------------------------------------------------------------

async def grant_consent(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                        consent_in: ConsentIn) -> Consent:
    """Record the survivor's consent for a purpose: scope = categories × recipient agencies."""
    case = await _case_to_change(session, actor, case_id)
    _require_case_worker(actor, case, "record the survivor's consent")
    purpose = _required(consent_in.purpose, "purpose", "the purpose of sharing")
    if consent_in.method not in METHODS:
        raise Invalid(f"say how consent was given: {' or '.join(METHODS)}", field="method")
    given_by = _required(consent_in.given_by, "given_by", "who gave consent")
    now = utcnow()
    given_at = _aware(consent_in.given_at, "given_at") or now
    expires_at = _aware(consent_in.expires_at, "expires_at")
    if given_at > now:
        raise Invalid("consent cannot be recorded before it is given", field="given_at")
    if expires_at is not None and expires_at <= given_at:
        raise Invalid("the expiry must be after consent was given", field="expires_at")
    pairs = _scope_pairs(registry, consent_in.categories, consent_in.recipients)
    consent = Consent(case_id=case.id, purpose=purpose, method=consent_in.method, given_by=given_by,
                      given_at=given_at, expires_at=expires_at, recorded_by_id=actor.id,
                      scopes=[ConsentScope(category=c, recipient=r) for c, r in pairs])
    session.add(consent)
    await session.flush()
    await audit.record(session, actor, "consent.granted", case_id=case.id, subject=f"consent:{consent.id}",
                       purpose=purpose, method=consent.method, given_by=given_by, given_at=given_at,
                       expires_at=expires_at, scopes=[list(p) for p in pairs])
    return consent


async def _record_on_case(session: AsyncSession, model: type[Consent] | type[Override], case_id: int,
                         record_id: int) -> Consent | Override:
    """A consent or an override with its scopes, only if it belongs to the case (else 404)."""
    record = (await session.execute(
        select(model).where(model.id == record_id, model.case_id == case_id).options(selectinload(model.scopes))
    )).scalar()
    if record is None:
        raise NotFound(f"no {model.__tablename__[:-1]} {record_id} on case {case_id}")
    return record


async def withdraw_consent(session: AsyncSession, actor: Actor, case_id: int, consent_id: int,
                           withdrawal_in: WithdrawalIn) -> Consent:
    """Withdraw a consent in whole or in part; returns the consent with its scopes stamped. It
    takes effect at once: the gate reads the withdrawal at the next request. Allowed on a closed
    case too (consent outlives the file)."""
    case = await cases.case_for(session, actor, case_id)
    _require_case_worker(actor, case, "record a withdrawal of consent")
    consent = await _record_on_case(session, Consent, case.id, consent_id)
    active = {scope.id: scope for scope in consent.scopes if scope.withdrawn_at is None}
    if withdrawal_in.scope_ids:
        unknown = [i for i in withdrawal_in.scope_ids if i not in active]
        if unknown:
            raise Invalid(f"consent {consent.id} has no scope {unknown[0]} still in force to withdraw",
                          field="scope_ids")
        chosen = [active[i] for i in dict.fromkeys(withdrawal_in.scope_ids)]
    elif active:
        chosen = list(active.values())
    else:
        raise Conflict(f"consent {consent.id} has been withdrawn in full already")
    now = utcnow()
    withdrawal = ConsentWithdrawal(consent_id=consent.id, recorded_by_id=actor.id, at=now,
                                   note=(withdrawal_in.note or "").strip())
    session.add(withdrawal)
    await session.flush()
    # Stamped only where still in force, so two people withdrawing at once cannot both win.
    stamped = await session.execute(
        update(ConsentScope).where(ConsentScope.id.in_([s.id for s in chosen]), ConsentScope.withdrawn_at.is_(None))
        .values(withdrawn_at=now, withdrawal_id=withdrawal.id)
    )
    if stamped.rowcount != len(chosen):
        raise Conflict(f"part of consent {consent.id} was withdrawn by someone else meanwhile: reload and try again")
    whole = len(chosen) == len(active)
    await audit.record(session, actor, "consent.withdrawn", case_id=case.id, subject=f"consent:{consent.id}",
                       withdrawal=withdrawal.id, whole=whole, note=withdrawal.note,
                       scopes=[[s.category, s.recipient] for s in chosen])
    return consent


async def case_consents(session: AsyncSession, actor: Actor, case_id: int) -> list[Consent]:
    """The case's consents, newest first, with their scopes (the actor must see the case)."""
    case = await cases.case_for(session, actor, case_id)
    return list((await session.execute(
        select(Consent).where(Consent.case_id == case.id).options(selectinload(Consent.scopes))
        .order_by(Consent.id.desc())
    )).scalars())


async def withdrawals_by_consent(session: AsyncSession, consent_ids: list[int]) -> dict[int, list[ConsentWithdrawal]]:
    rows = (await session.execute(
        select(ConsentWithdrawal).where(ConsentWithdrawal.consent_id.in_(consent_ids)).order_by(ConsentWithdrawal.id)
    )).scalars()
    grouped: dict[int, list[ConsentWithdrawal]] = {i: [] for i in consent_ids}
    for withdrawal in rows:
        grouped[withdrawal.consent_id].append(withdrawal)
    return grouped


def scope_status(consent: Consent, scope: ConsentScope, now: dt.datetime) -> str:
    """How one scope stands at ``now``, by the gate's own rule: in_force, withdrawn, expired, not_yet_given."""
    if consent_in_force(consent.given_at, consent.expires_at, scope.withdrawn_at, now):
        return "in_force"
    if scope.withdrawn_at is not None and scope.withdrawn_at <= now:
        return "withdrawn"
    if consent.expires_at is not None and consent.expires_at <= now:
        return "expired"
    return "not_yet_given"


# --- overrides -------------------------------------------------------------------------------

async def request_override(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                           override_in: OverrideIn) -> Override:
    """Ask to share without consent on a legal basis. It grants nothing until approved."""
    case = await _case_to_change(session, actor, case_id)
    if override_in.legal_basis not in LEGAL_BASES:
        raise Invalid("name the legal basis: " + ", ".join(LEGAL_BASES.values()), field="legal_basis")
    justification = _required(override_in.justification, "justification", "the justification")
    expires_at = _aware(override_in.expires_at, "expires_at")
    if expires_at is None or expires_at <= utcnow():
        raise Invalid("an override needs an expiry in the future", field="expires_at")
    pairs = _scope_pairs(registry, override_in.categories, override_in.recipients)
    override = Override(case_id=case.id, legal_basis=override_in.legal_basis, justification=justification,
                        requested_by_id=actor.id, expires_at=expires_at,
                        scopes=[OverrideScope(category=c, recipient=r) for c, r in pairs])
    session.add(override)
    await session.flush()
    await audit.record(session, actor, "override.requested", case_id=case.id, subject=f"override:{override.id}",
                       legal_basis=override.legal_basis, justification=justification, expires_at=expires_at,
                       scopes=[list(p) for p in pairs])
    return override


async def decide_override(session: AsyncSession, actor: Actor, case_id: int, override_id: int,
                          decision_in: OverrideDecisionIn) -> Override:
    """A supervisor who is not the requester approves or refuses a requested override."""
    case = await cases.case_for(session, actor, case_id)
    override = await _record_on_case(session, Override, case.id, override_id)
    if decision_in.decision not in DECISIONS:
        raise Invalid("decide to approve or refuse", field="decision")
    if actor.role != APPROVER_ROLE:
        raise Forbidden("only a supervisor can approve or refuse an override")
    if actor.id == override.requested_by_id:
        raise Forbidden("an override needs a supervisor other than the person who requested it")
    if override.status != "requested":
        raise Conflict(f"override {override.id} was {override.status} already")
    now = utcnow()
    if decision_in.decision == "approve":
        cases.ensure_open(case)
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
                       subject=f"override:{override.id}", note=override.decision_note)
    return override


async def record_survivor_notice(session: AsyncSession, actor: Actor, case_id: int, override_id: int,
                                 notice: SurvivorNoticeIn) -> Override:
    """Record that the survivor was told of an override (and when), or why they were not."""
    case = await cases.case_for(session, actor, case_id)
    override = await _record_on_case(session, Override, case.id, override_id)
    if not (actor.id == override.requested_by_id or actor.role == APPROVER_ROLE or is_case_worker(actor, case)):
        raise Forbidden("only the requester, a supervisor or the case worker records whether the survivor was told")
    now = utcnow()
    if notice.informed:
        informed_at = _aware(notice.informed_at, "informed_at") or now
        if informed_at > now:
            raise Invalid("the survivor cannot have been told in the future", field="informed_at")
        override.survivor_informed, override.survivor_informed_at = True, informed_at
        override.not_informed_reason = None
    else:
        reason = _required(notice.reason or "", "reason", "the reason the survivor was not told")
        override.survivor_informed, override.survivor_informed_at = False, None
        override.not_informed_reason = reason
    await audit.record(session, actor, "override.survivor_notice", case_id=case.id, subject=f"override:{override.id}",
                       informed=override.survivor_informed, informed_at=override.survivor_informed_at,
                       reason=override.not_informed_reason)
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


async def display_names(session: AsyncSession, user_ids: set[int | None]) -> dict[int, str]:
    """Names to show beside the people who recorded, requested or decided something."""
    ids = [i for i in user_ids if i is not None]
    if not ids:
        return {}
    return dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))).all())
