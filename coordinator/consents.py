"""The survivor's consent to share, and its withdrawal.

This module records consent; what it lets an agency see is decided by the consent gate
(coordinator.gate), which reads these records at every request, so a withdrawal or an expiry
takes effect at the next view on every path, and the live pages are told at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, cases, events, policy
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.gate import consent_in_force
from coordinator.limits import Category, Id, Key, ListOf, OneOf, Text, WrittenLine
from coordinator.models import Case, Consent, ConsentScope, ConsentWithdrawal, Override, User, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

METHODS = ("written", "verbal")


@dataclass
class ConsentIn:
    """Consent as the case worker records it. The scope is every category × every recipient."""

    purpose: WrittenLine(200, "the purpose of sharing is required")
    method: OneOf(METHODS, "say how consent was given: written or verbal")
    given_by: WrittenLine(200, "who gave consent is required")
    categories: ListOf(100, Category, at_least=1, refusal="choose at least one category of information")
    recipients: ListOf(50, Key, at_least=1, refusal="choose at least one agency to share with")
    given_at: dt.datetime | None = None  # default: now
    expires_at: dt.datetime | None = None  # default: until withdrawn


@dataclass
class WithdrawalIn:
    """Withdraw the listed scopes of a consent, or all of them when none are listed."""

    scope_ids: ListOf(5000, Id) = field(default_factory=list)
    note: Text() = ""


# --- input checks ----------------------------------------------------------------------------

def aware(value: dt.datetime | None, field_name: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise Invalid("give the time with its time zone, e.g. 2026-12-01T17:00:00Z", field=field_name)
    return value


def required_text(value: str, field_name: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(f"{what} is required", field=field_name)
    return value


def scope_pairs(registry: AgencyRegistry, categories: list[str], recipients: list[str]) -> list[tuple[str, str]]:
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


async def case_to_change(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    return case

# --- consent -------------------------------------------------------------------------------

async def grant_consent(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                        consent_in: ConsentIn) -> Consent:
    """Record the survivor's consent for a purpose: scope = categories × recipient agencies."""
    case = await case_to_change(session, actor, case_id)
    policy.require_case_worker(actor, case, "record the survivor's consent")
    purpose = required_text(consent_in.purpose, "purpose", "the purpose of sharing")
    if consent_in.method not in METHODS:
        raise Invalid(f"say how consent was given: {' or '.join(METHODS)}", field="method")
    given_by = required_text(consent_in.given_by, "given_by", "who gave consent")
    now = utcnow()
    given_at = aware(consent_in.given_at, "given_at") or now
    expires_at = aware(consent_in.expires_at, "expires_at")
    if given_at > now:
        raise Invalid("consent cannot be recorded before it is given", field="given_at")
    if expires_at is not None and expires_at <= given_at:
        raise Invalid("the expiry must be after consent was given", field="expires_at")
    pairs = scope_pairs(registry, consent_in.categories, consent_in.recipients)
    return await record_consent(session, actor, case.id, purpose=purpose, method=consent_in.method,
                                given_by=given_by, given_at=given_at, expires_at=expires_at, pairs=pairs)


async def record_consent(session: AsyncSession, actor: Actor, case_id: int, *, purpose: str, method: str,
                         given_by: str, given_at: dt.datetime, expires_at: dt.datetime | None,
                         pairs: list[tuple[str, str]]) -> Consent:
    """Write a consent the caller has checked, audited and announced. With no ``pairs`` it grants
    nothing through the gate: it documents what she agreed to pass on outside the system."""
    consent = Consent(case_id=case_id, purpose=purpose, method=method, given_by=given_by, given_at=given_at,
                      expires_at=expires_at, recorded_by_id=actor.id,
                      scopes=[ConsentScope(category=c, recipient=r) for c, r in pairs])
    session.add(consent)
    await session.flush()
    await audit.record(session, actor, "consent.granted", case_id=case_id, subject=f"consent:{consent.id}",
                       method=method, given_at=given_at, expires_at=expires_at, scopes=[list(p) for p in pairs])
    events.case_changed(session, case_id, "consents")
    return consent


async def record_on_case(session: AsyncSession, model: type[Consent] | type[Override], case_id: int,
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
    policy.require_case_worker(actor, case, "record a withdrawal of consent")
    consent = await record_on_case(session, Consent, case.id, consent_id)
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
                       withdrawal=withdrawal.id, whole=whole, scopes=[[s.category, s.recipient] for s in chosen])
    events.case_changed(session, case.id, "consents")
    return consent


async def _consents_of(session: AsyncSession, case_id: int) -> list[Consent]:
    return list((await session.execute(
        select(Consent).where(Consent.case_id == case_id).options(selectinload(Consent.scopes))
        .order_by(Consent.id.desc())
    )).scalars())


async def case_consents(session: AsyncSession, actor: Actor, case_id: int) -> list[Consent]:
    """The case file's consents, newest first, with their scopes (the actor must see the case).
    A closed case's file holds none: they are kept apart, in the consent register (GBV step 6,
    "do not include the consent form in the closed file")."""
    case = await cases.case_for(session, actor, case_id)
    return [] if case.closed_at is not None else await _consents_of(session, case.id)


async def _recorders(session: AsyncSession, records: list[Consent]) -> set[str | None]:
    return set((await session.execute(
        select(User.agency).where(User.id.in_({c.recorded_by_id for c in records})))).scalars())


async def may_open_register(session: AsyncSession, actor: Actor, case_id: int) -> bool:
    return policy.may_open_consent_register(actor, await _recorders(session, await _consents_of(session, case_id)))


async def consent_register(session: AsyncSession, actor: Actor, case_id: int) -> tuple[Case, list[Consent]]:
    """A closed case's consent records, for supervisors and the agencies that recorded them; to
    anyone else the register does not exist (404). The gate goes on using these records for as
    long as the case could be reopened."""
    case = await cases.load_case(session, case_id)
    records = await _consents_of(session, case.id)
    if not policy.may_open_consent_register(actor, await _recorders(session, records)):
        raise NotFound(f"no consent register for case {case_id}")
    if case.closed_at is None:
        raise Conflict(f"case {case.reference} is open: its consent records are in the case file", field="case_id")
    await audit.record(session, actor, "consent.register_opened", case_id=case.id, subject=f"case:{case.id}",
                       consents=[c.id for c in records])
    return case, records


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

async def display_names(session: AsyncSession, user_ids: set[int | None]) -> dict[int, str]:
    """Names to show beside the people who recorded, requested or decided something."""
    ids = [i for i in user_ids if i is not None]
    if not ids:
        return {}
    return dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))).all())
