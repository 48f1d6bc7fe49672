"""Referring the survivor to services (GBV case management, step 4), and the service directory.

A case worker refers her to an installed agency or to a service of the directory, recording her
consent for what the referral shares first. A referral moves draft → sent → accepted or declined
(with the reason) → completed (with the outcome), each step with who and when. An installed
agency decides its own incoming referrals and, not being on the case yet, sees only the referral
(never the case's people or summary); accepting adds it to the case with its task list. For a
service outside the system the case worker records its answer. Notes on accompanying and
advocating for the survivor are kept with the referral.

The directory is the administrators' entries plus those the agencies' plugins contribute; the
plugin entries are copied into the directory when the server starts (plugins change only then),
so reading the directory never writes or locks, and only the plugin changes them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, cases, consents, events, policy
from coordinator.accounts import actor_of
from coordinator.consents import METHODS, ConsentIn
from coordinator.errors import Conflict, Forbidden, Invalid, NotFound
from coordinator.lifecycle import closure, feedback
from coordinator.limits import Category, Id, Key, Line, ListOf, OneOf, Text, Written, WrittenLine
from coordinator.models import (
    OPEN_REFERRAL_STATUSES,
    Case,
    Consent,
    Referral,
    ReferralEvent,
    Service,
    Task,
    User,
    utcnow,
)
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import ReferralThresholds
from coordinator.tasks import CLOSED_STATUSES

STATUSES = ("draft", "sent", "accepted", "declined", "completed")
OPEN_STATUSES = OPEN_REFERRAL_STATUSES
# Each state and the one it may move to from there.
MOVES = {"sent": "draft", "accepted": "sent", "declined": "sent", "completed": "accepted"}
NOTE_KINDS = ("accompanying", "advocating", "other")
# The consent's purpose (200 characters) names the recipient and, for a service outside the system,
# what she agreed to pass on, in full: the recipient's name is shortened there if need be.
MAX_TARGET_IN_PURPOSE, MAX_SHARES = 60, 120
# Module step 4: what accompanying and advocating cover, for the note form.
NOTE_LABELS = {"accompanying": "Accompanying her to the service", "advocating": "Advocating on her behalf",
               "other": "Other support in accessing the service"}


@dataclass
class ServiceIn:
    """A directory entry an administrator adds."""

    name: WrittenLine(200, "give the service's name")
    kind: WrittenLine(60, "give the kind of service (e.g. shelter, counselling)")
    offers: Text(4000) = ""
    contact: Line(300) = ""
    area: Line(200) = ""


@dataclass
class ReferralIn:
    """A referral (to an installed agency or to a directory service) and her consent to it.

    To an installed agency, ``categories`` are what it may see once it is on the case (her consent
    is recorded with that agency as recipient, and the consent gate applies it). To a service
    outside the system, ``shares`` says what she agreed to have passed on by hand (the consent is
    recorded as that documentation, granting no agency anything)."""

    purpose: WrittenLine(500, "give the purpose of the referral (what she needs from the service)")
    method: OneOf(METHODS, "say how she consented to the referral: written or verbal")
    given_by: WrittenLine(200, "give who gave consent to the referral")
    to_agency: Key | None = None
    service_id: Id | None = None
    categories: ListOf(100, Category) = field(default_factory=list)
    shares: Line(MAX_SHARES) = ""


@dataclass
class ReferralStatusIn:
    """The referral's next state: sent, accepted, declined (with ``reason``) or completed (with ``outcome``)."""

    status: OneOf(MOVES, "a referral is sent, then accepted or declined, then completed")
    version: Id
    reason: Text(2000) = ""
    outcome: Text(4000) = ""


@dataclass
class ReferralNoteIn:
    kind: OneOf(NOTE_KINDS)
    text: Written(4000, "give the note")


def _required(value: str, name: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise Invalid(f"give {what}", field=name)
    return value


# --- the directory --------------------------------------------------------------------------------

async def sync_plugin_services(session: AsyncSession, registry: AgencyRegistry) -> None:
    """Bring the plugins' entries into the directory: new ones added, changed ones updated, and
    those no installed plugin offers any more made inactive. The administrators' are untouched.
    Run once at start-up (``create_app``'s start), never on a read path."""
    if session.bind.dialect.name == "postgresql":
        # Two server processes starting at once would both add the entries.
        await session.execute(text("SELECT pg_advisory_xact_lock(7746002)"))
    offered = {(agency.key, entry.name): entry for agency in registry for entry in agency.services}
    stored = {(s.agency, s.name): s for s in (await session.execute(
        select(Service).where(Service.agency.is_not(None)))).scalars()}
    for key, entry in offered.items():
        values = {"kind": entry.kind, "offers": entry.offers, "contact": entry.contact, "area": entry.area,
                  "active": True}
        row = stored.get(key)
        if row is None:
            session.add(Service(agency=key[0], name=entry.name, **values))
        elif any(getattr(row, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
    for key, row in stored.items():
        if key not in offered and row.active:
            row.active = False
    await session.flush()


async def directory(session: AsyncSession, *, inactive: bool = False) -> list[Service]:
    """The service directory, by kind then name (the inactive entries too if asked)."""
    query = select(Service).order_by(Service.kind, Service.name, Service.id)
    if not inactive:
        query = query.where(Service.active.is_(True))
    return list((await session.execute(query)).scalars())


async def add_service(session: AsyncSession, actor: Actor, data: ServiceIn) -> Service:
    policy.require_directory_keeper(actor, "add to the service directory")
    service = Service(name=_required(data.name, "name", "the service's name"),
                      kind=_required(data.kind, "kind", "the kind of service (e.g. shelter, counselling)"),
                      offers=data.offers.strip(), contact=data.contact.strip(), area=data.area.strip())
    session.add(service)
    await session.flush()
    await audit.record(session, actor, "service.added", subject=f"service:{service.id}")
    return service


async def deactivate_service(session: AsyncSession, actor: Actor, service_id: int) -> Service:
    """An administrator takes an entry out of the directory (referrals already made keep it)."""
    policy.require_directory_keeper(actor, "change the service directory")
    service = await session.get(Service, service_id)
    if service is None:
        raise NotFound(f"no service {service_id}")
    if service.agency is not None:
        raise Forbidden("this entry comes from an agency's plugin: it changes only with the plugin")
    changed = await session.execute(update(Service).where(Service.id == service.id, Service.active.is_(True))
                                    .values(active=False))
    if changed.rowcount != 1:
        raise Conflict(f"the service {service_id} is out of the directory already")
    await audit.record(session, actor, "service.deactivated", subject=f"service:{service.id}")
    await session.refresh(service)
    return service


# --- referrals ------------------------------------------------------------------------------------

async def _load(session: AsyncSession, referral_id: int) -> Referral:
    referral = (await session.execute(
        select(Referral).where(Referral.id == referral_id).options(selectinload(Referral.history))
        .execution_options(populate_existing=True))).scalar()
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    return referral


async def referral_for(session: AsyncSession, actor: Actor, referral_id: int) -> tuple[Referral, Case]:
    """The referral and its case, for those who see the case and for the agency it is sent to
    (once sent); to anyone else it does not exist."""
    referral = await _load(session, referral_id)
    case = await cases.load_case(session, referral.case_id)
    if not policy.may_see_referral(actor, cases.agencies_of(case), referral.to_agency, referral.status):
        raise NotFound(f"no referral {referral_id}")
    return referral, case


async def _record_consent(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case,
                          data: ReferralIn, target: str) -> Consent:
    purpose = f"referral to {target[:MAX_TARGET_IN_PURPOSE]}"
    if data.to_agency is not None:
        return await consents.grant_consent(session, registry, actor, case.id, ConsentIn(
            purpose=purpose, method=data.method, given_by=data.given_by, categories=data.categories,
            recipients=[data.to_agency]))
    # A service outside the system sees nothing here: the record documents what she agreed to pass on.
    shares = _required(data.shares, "shares", "what she agreed to share with the service")
    consent = await consents.record_consent(session, actor, case.id, purpose=f"{purpose}: {shares}",
                                            method=data.method, given_by=data.given_by.strip(), given_at=utcnow(),
                                            expires_at=None, pairs=[])
    return consent


async def create_referral(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                          data: ReferralIn) -> Referral:
    """A draft referral with her consent recorded: the case worker refers, on an open case."""
    case = await cases.case_for(session, actor, case_id)
    policy.require_case_work(actor, case, "refer the survivor to a service")
    purpose = _required(data.purpose, "purpose", "the purpose of the referral (what she needs from the service)")
    _required(data.given_by, "given_by", "who gave consent to the referral")
    if (data.to_agency is None) == (data.service_id is None):
        raise Invalid("refer to one installed agency or one service of the directory", field="to_agency")
    if data.to_agency is not None:
        if data.to_agency not in registry:
            raise Invalid(f"no agency {data.to_agency!r} is installed", field="to_agency")
        if data.to_agency in cases.agencies_of(case):
            raise Invalid(f"{registry.name(data.to_agency)} is part of this case already", field="to_agency")
        target = registry.name(data.to_agency)
        same = Referral.to_agency == data.to_agency
    else:
        service = await session.get(Service, data.service_id)
        if service is None or not service.active:
            raise Invalid(f"no service {data.service_id} is in the directory", field="service_id")
        target = service.name
        same = Referral.service_id == service.id
    # The usual answer names the open referral; the partial unique index decides two made at once.
    waiting = (await session.execute(select(Referral.id).where(
        Referral.case_id == case.id, same, Referral.status.in_(OPEN_STATUSES)))).first()
    if waiting is not None:
        raise Conflict(f"referral {waiting.id} to {target} is still open on this case", field="to_agency")
    consent = await _record_consent(session, registry, actor, case, data, target)
    referral = Referral(case_id=case.id, to_agency=data.to_agency, service_id=data.service_id, purpose=purpose,
                        consent_id=consent.id, created_by_id=actor.id,
                        history=[ReferralEvent(status="draft", by_id=actor.id)])
    try:
        async with session.begin_nested():
            session.add(referral)
    except IntegrityError:  # the loser's consent goes with its transaction: nothing of it is written
        raise Conflict(f"a referral to {target} is still open on this case", field="to_agency") from None
    await audit.record(session, actor, "referral.created", case_id=case.id, subject=f"referral:{referral.id}",
                       to_agency=data.to_agency, service=data.service_id, consent=consent.id)
    events.case_changed(session, case.id, "case")
    return await _load(session, referral.id)


async def change_status(session: AsyncSession, registry: AgencyRegistry, actor: Actor, referral_id: int,
                        data: ReferralStatusIn) -> Referral:
    """Move a referral on: the case worker sends it; the agency it is sent to (or, for a service
    outside the system, the case worker) accepts or declines it; either completes it."""
    referral, case = await referral_for(session, actor, referral_id)
    cases.ensure_open(case)
    if data.status not in MOVES:
        raise Invalid(f"status must be one of {', '.join(MOVES)}", field="status")
    if data.status == "sent":
        policy.require_case_work(actor, case, "send a referral")
    elif data.status in ("accepted", "declined"):
        policy.require_referral_decider(actor, case, referral.to_agency, registry.name(referral.to_agency))
    else:
        policy.require_referral_completer(actor, case, referral.to_agency, registry.name(referral.to_agency))
    if referral.status != MOVES[data.status]:
        raise Conflict(f"referral {referral.id} is {referral.status}: it cannot be {data.status} now", field="status")
    note = ""
    if data.status == "declined":
        note = _required(data.reason, "reason", "the reason the referral is declined")
    if data.status == "completed":
        note = _required(data.outcome, "outcome", "the outcome of the referral")
    values: dict[str, object] = {"status": data.status, "version": referral.version + 1}
    if data.status == "declined":
        values["decline_reason"] = note
    if data.status == "completed":
        values["outcome"] = note
    changed = await session.execute(update(Referral).where(
        Referral.id == referral.id, Referral.version == data.version, Referral.status == referral.status)
        .values(**values))
    if changed.rowcount != 1:
        raise Conflict(f"referral {referral.id} was changed meanwhile (it is {referral.status}, version "
                       f"{referral.version}): reload it and try again", field="version")
    session.add(ReferralEvent(referral_id=referral.id, status=data.status, by_id=actor.id, note=note))
    if data.status == "accepted" and referral.to_agency is not None \
            and referral.to_agency not in cases.agencies_of(case):
        await cases.join_case(session, registry, actor, case, referral.to_agency, ground=f"referral:{referral.id}")
    await audit.record(session, actor, f"referral.{data.status}", case_id=case.id, subject=f"referral:{referral.id}")
    events.case_changed(session, case.id, "case")
    return await _load(session, referral.id)


async def add_note(session: AsyncSession, actor: Actor, referral_id: int, data: ReferralNoteIn) -> Referral:
    """A note on accompanying or advocating for her, appended to the referral's notes (never rewritten)."""
    referral, case = await referral_for(session, actor, referral_id)
    cases.ensure_open(case)
    policy.require_referral_note_writer(actor, case, referral.to_agency, cases.agencies_of(case))
    note = _required(data.text, "text", "the note")
    if data.kind not in NOTE_KINDS:
        raise Invalid(f"kind must be one of {', '.join(NOTE_KINDS)}", field="kind")
    heading = f"{utcnow().date().isoformat()} · {actor.name} · {NOTE_LABELS[data.kind]}"
    changed = await session.execute(update(Referral).where(
        Referral.id == referral.id, Referral.version == referral.version).values(
        notes=f"{referral.notes}\n\n{heading}\n{note}".lstrip(), version=referral.version + 1))
    if changed.rowcount != 1:
        raise Conflict(f"referral {referral.id} was changed meanwhile: reload it and try again")
    session.add(ReferralEvent(referral_id=referral.id, status="note", by_id=actor.id, note=data.kind))
    await audit.record(session, actor, "referral.note_added", case_id=case.id, subject=f"referral:{referral.id}",
                       kind=data.kind)
    events.case_changed(session, case.id, "case")
    return await _load(session, referral.id)


async def case_referrals(session: AsyncSession, case_id: int) -> list[Referral]:
    return list((await session.execute(
        select(Referral).where(Referral.case_id == case_id).options(selectinload(Referral.history))
        .order_by(Referral.id.desc()))).scalars())


@dataclass(frozen=True)
class IncomingReferral:
    """What an agency not (yet) on a case sees of a referral to it: never the case's people or summary."""

    id: int
    case_reference: str
    purpose: str
    from_agency: str | None
    sent_at: object
    status: str
    version: int


async def incoming(session: AsyncSession, actor: Actor) -> list[IncomingReferral]:
    """Referrals sent to the actor's agency and awaiting its answer or its outcome, oldest first."""
    if actor.agency is None:
        return []
    rows = (await session.execute(
        select(Referral, Case.reference, User.agency).join(Case, Case.id == Referral.case_id)
        .join(User, User.id == Referral.created_by_id)
        .where(Referral.to_agency == actor.agency, Referral.status.in_(("sent", "accepted")),
               Case.closed_at.is_(None))
        .options(selectinload(Referral.history)).order_by(Referral.id))).all()
    return [IncomingReferral(r.id, reference, r.purpose, agency, sent_at(r), r.status, r.version)
            for r, reference, agency in rows]


def sent_at(referral: Referral) -> object:
    return next((e.at for e in referral.history if e.status == "sent"), None)


async def services_by_id(session: AsyncSession, ids: set[int | None]) -> dict[int, Service]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {s.id: s for s in (await session.execute(select(Service).where(Service.id.in_(wanted)))).scalars()}


async def referring_agency(session: AsyncSession, referral: Referral) -> str | None:
    """The agency of the person who made the referral."""
    return (await session.execute(select(User.agency).where(User.id == referral.created_by_id))).scalar()


# --- demo data ------------------------------------------------------------------------------------

# The demo's closed case: a new referral for "Amira Hadad" finds it at intake (README "Finding earlier cases").
DEMO_EARLIER_SURVIVOR = "Amira Haddad"
DEMO_EARLIER_BORN_ON = dt.date(1991, 5, 14)
DEMO_SERVICES = (
    ServiceIn("City women's refuge", "shelter", "Emergency accommodation for women and their children",
              "0800 100 200 (24 hours)", "City and county"),
    ServiceIn("Legal advice clinic", "legal advice", "Protection orders, child arrangements, immigration status",
              "clinic@example.org", "City"),
    ServiceIn("Counselling service", "counselling", "Trauma-informed counselling, groups for survivors",
              "01234 567 890", "County"),
    ServiceIn("Independent domestic violence advisers", "accompaniment",
              "Accompanies survivors to court and to report a crime", "idva@example.org", "City and county"),
)


async def load_referrals_and_feedback(session: AsyncSession, registry: AgencyRegistry, users: dict,
                                      case: Case) -> list[str]:
    """Demo data: the directory, one referral in each state on ``case``, and a second case whose
    referral to an installed agency was accepted and completed, closed, with its feedback survey
    given by the supervisor. ``users`` are the demo's users by username (admin, chair, supervisor,
    ``<agency>.rep``)."""
    admin, chair, supervisor = (actor_of(users[name]) for name in ("admin", "chair", "supervisor"))
    refuge, clinic, counselling, advisers = [await add_service(session, admin, s) for s in DEMO_SERVICES]
    survivor = next((p.name for p in case.people if p.role == "survivor"), "the survivor")

    async def to_service(service: Service, purpose: str, shares: str, *moves: str, **fields: str) -> Referral:
        referral = await create_referral(session, registry, chair, case.id, ReferralIn(
            purpose=purpose, method="written", given_by=survivor, service_id=service.id, shares=shares))
        for status in moves:
            referral = await change_status(session, registry, chair, referral.id,
                                           ReferralStatusIn(status, referral.version, **fields))
        return referral

    await to_service(counselling, "Counselling for her and the children", "her name and phone number")
    await to_service(clinic, "A protection order before Mark's release", "her name, the incidents' dates", "sent")
    await to_service(refuge, "A refuge place for her and the children", "her name and the children's ages",
                     "sent", "declined", reason="No family room free this month")
    accepted = await to_service(advisers, "An adviser to go with her to the hearing", "her name and the hearing date",
                                "sent", "accepted")
    await add_note(session, chair, accepted.id, ReferralNoteIn("accompanying", "Met the adviser with her at the "
                                                               "court's family suite; a safe waiting room is booked."))
    lines = [f"service directory: {len(DEMO_SERVICES)} entries; case {case.reference}: a referral in each of draft, "
             "sent, declined and accepted"]

    keys = registry.keys
    if len(keys) < 2:
        return lines
    today = utcnow().date()
    closed = await cases.create_case(session, registry, ReferralThresholds(), chair, cases.ReferralIn(
        kind="domestic_abuse", people=[cases.PersonIn("survivor", DEMO_EARLIER_SURVIVOR, born_on=DEMO_EARLIER_BORN_ON),
                                            cases.PersonIn("subject", "Karl Brandt")],
        summary="Amira was referred after a high-risk assessment; she has since moved to a safe address.",
        checklist_score=15, agencies=[keys[0]], lead_agency=keys[0], referring_agency=keys[0],
        last_incident_on=today - dt.timedelta(days=120)), today)
    receiving = actor_of(users[f"{keys[1]}.rep"])
    shared = next(iter(registry.get(keys[0]).categories), None)
    referral = await create_referral(session, registry, chair, closed.id, ReferralIn(
        purpose="Support to stay safe at her new address", method="written", given_by="Amira",
        to_agency=keys[1], categories=[shared] if shared else [], shares=""))
    referral = await change_status(session, registry, chair, referral.id, ReferralStatusIn("sent", referral.version))
    referral = await change_status(session, registry, receiving, referral.id,
                                   ReferralStatusIn("accepted", referral.version))
    await change_status(session, registry, receiving, referral.id, ReferralStatusIn(
        "completed", referral.version, outcome="Safety visit made; she knows whom to call"))
    open_tasks = (await session.execute(select(Task.id).where(
        Task.case_id == closed.id, Task.status.not_in(CLOSED_STATUSES), Task.source != "standing"))).scalars()
    request = await closure.request_closure(session, registry, chair, closed.id, closure.ClosureIn(
        criterion="needs_met", closing_on=today, reasons="She is settled and her support is in place",
        tasks=[closure.TaskReviewIn(task_id, "done") for task_id in open_tasks]), today)
    await closure.decide_closure(session, supervisor, closed.id, request.id, closure.DecisionIn(approve=True))
    await feedback.administer(session, list(feedback.DEFAULT_QUESTIONS), supervisor, closed.id, feedback.SurveyIn(
        consent_read=True, mode="interview", answers=["agree"] * len(feedback.DEFAULT_QUESTIONS)))
    return [*lines, f"case {closed.reference}: referred to {registry.name(keys[1])} (accepted, completed), closed, "
                    "with the survivor's feedback"]
