"""The screening of a threat-assessment case: the team's classification of the report (levels from the
setting COORDINATOR_THREAT_LEVELS, lowest first), its reasons and who took part.

Each classification is a new version (1 for the first screening), never an edit: the unique
(case, version) decides between two team members classifying at once, and the history keeps every
version. A classification recorded by anyone but the team's lead awaits the lead's approval (one at a
time per case); the case's level is its newest approved classification. An approved classification
above the level before it raises the case's ``threat_level_raised`` event, once, through the agencies'
plugins as a risk rise does.

The screening is due within the time the team sets (COORDINATOR_THREAT_SCREENING_DUE): by a time of day
("17:00": the same school day, or the next one for a report after it) or within a number of hours ("4h").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, policy
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.lifecycle import case_events, team_roles, threat_plans
from coordinator.limits import Count, Id, Line, ListOf, Text, Written
from coordinator.models import Case, ThreatScreening, User, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

MAX_REASONS = 4_000
APPROVED, PENDING, REFUSED = "approved", "pending", "refused"


@dataclass
class ScreeningIn:
    """A classification of the case: ``version`` is the screening version the team saw (0 before the
    first screening), so a re-classification made meanwhile is not silently overwritten."""

    version: Count
    level: Line(60)
    reasons: Written(MAX_REASONS, "say why the team classified the threat so")
    participants: ListOf(30, Id) = field(default_factory=list)


@dataclass
class ScreeningDecisionIn:
    """The team lead's answer to a classification awaiting her approval; a refusal says why."""

    approve: bool
    note: Text(MAX_REASONS) = ""


@dataclass(frozen=True)
class ScreeningView:
    version: int
    level: str
    reasons: str
    participants: list[str]  # names, in the order given
    by: str
    at: dt.datetime
    status: str  # approved, pending (awaiting the team's lead) or refused
    decided_by: str  # who approved or refused it ("" when it stood at once or still waits)
    decision_note: str  # why the lead refused it
    by_id: int


async def latest(session: AsyncSession, case_id: int) -> ThreatScreening | None:
    """The newest classification recorded, whatever its status: the version a new one follows."""
    return (await session.execute(select(ThreatScreening).where(ThreatScreening.case_id == case_id)
                                  .order_by(ThreatScreening.version.desc()).limit(1))).scalar()


async def current(session: AsyncSession, case_id: int) -> ThreatScreening | None:
    """The case's level: its newest approved classification."""
    return (await session.execute(select(ThreatScreening).where(ThreatScreening.case_id == case_id,
                                                                ThreatScreening.status == APPROVED)
                                  .order_by(ThreatScreening.version.desc()).limit(1))).scalar()


async def history(session: AsyncSession, case_id: int) -> list[ScreeningView]:
    """Every classification of the case, newest first, with the names of who took part and who recorded it."""
    screenings = list((await session.execute(select(ThreatScreening).where(ThreatScreening.case_id == case_id)
                                             .order_by(ThreatScreening.version.desc()))).scalars())
    ids = ({s.by_id for s in screenings} | {s.decided_by_id for s in screenings}
           | {i for s in screenings for i in s.participant_ids})
    names = dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))).all())
    return [ScreeningView(s.version, s.level, s.reasons, [names.get(i, "") for i in s.participant_ids],
                          names.get(s.by_id, ""), s.at, s.status, names.get(s.decided_by_id, ""), s.decision_note or "", s.by_id)
            for s in screenings]


@dataclass(frozen=True)
class ScreeningDue:
    at: dt.datetime
    overdue: bool


def screening_due(case: Case, screened: bool, now: dt.datetime) -> ScreeningDue | None:
    """Until the report is screened, when its screening is due and whether that time has passed."""
    if screened or case.screening_due_at is None:
        return None
    return ScreeningDue(case.screening_due_at, now > case.screening_due_at)


async def _team_members(session: AsyncSession, ids: list[int], team: list[str]) -> list[int]:
    """The participants, each an active user of an agency on the team, each once, in the order given."""
    unique = list(dict.fromkeys(ids))
    found = set((await session.execute(select(User.id).where(
        User.id.in_(unique), User.active.is_(True), User.agency.in_(team)))).scalars())
    missing = [i for i in unique if i not in found]
    if missing:
        raise Invalid(f"user {missing[0]} is not an active member of an agency on the case's team",
                      field="participants")
    return unique


async def classify(session: AsyncSession, registry: AgencyRegistry, levels: Sequence[str], actor: Actor,
                   case_id: int, screening_in: ScreeningIn, today: dt.date) -> ThreatScreening:
    """Screen the case (the first classification) or re-classify it: it stands at once when the team's lead
    records it (or the team has no lead yet), else it awaits the lead's approval. A rise raises its event once."""
    case = await threat_plans.threat_case(session, actor, case_id, "screening", write=True)
    team = cases.agencies_of(case)
    policy.require_screener(actor, case, team)
    if screening_in.level not in levels:
        raise Invalid(f"the level must be one of {', '.join(levels)}", field="level")
    participants = await _team_members(session, screening_in.participants, team)
    before = await latest(session, case.id)
    seen = before.version if before else 0
    if screening_in.version != seen:
        raise Conflict(f"the case's screening is at version {seen}, you saw version {screening_in.version}: "
                       "check the latest classification and try again", field="version")
    if before is not None and before.status == PENDING:
        raise _awaiting(before)
    lead = await team_roles.lead_id(session, case.id)
    awaits = policy.classification_awaits_lead(actor, lead)
    screening = ThreatScreening(case_id=case.id, version=seen + 1, level=screening_in.level,
                                reasons=screening_in.reasons.strip(), participants=json.dumps(participants),
                                by_id=actor.id, status=PENDING if awaits else APPROVED)
    try:
        async with session.begin_nested():  # two at once: the unique (case, version) and one pending decide
            session.add(screening)
    except IntegrityError:
        raise Conflict("someone classified the case meanwhile: check the latest classification and try again",
                       field="version") from None
    # The reasons are free text: the audit names the record, never its words.
    await audit.record(session, actor, "case.screened", case_id=case.id, subject=f"screening:{screening.id}",
                       version=screening.version, level=screening.level, participants=participants,
                       status=screening.status)
    events.case_changed(session, case.id, "case")
    if not awaits:
        await _raise_if_higher(session, registry, levels, actor, case, screening, today)
    return screening


def _awaiting(pending: ThreatScreening) -> Conflict:
    return Conflict(f"the classification of version {pending.version} awaits the team lead's approval: "
                    "she approves or refuses it before the next", field="version")


async def _raise_if_higher(session: AsyncSession, registry: AgencyRegistry, levels: Sequence[str], actor: Actor,
                           case: Case, screening: ThreatScreening, today: dt.date) -> None:
    """``screening`` became the case's level: a rise above the level before it raises the case's event."""
    before = (await session.execute(select(ThreatScreening).where(
        ThreatScreening.case_id == case.id, ThreatScreening.status == APPROVED,
        ThreatScreening.version < screening.version).order_by(ThreatScreening.version.desc()).limit(1))).scalar()
    rank = {level: i for i, level in enumerate(levels)}
    if before is not None and rank.get(screening.level, -1) > rank.get(before.level, -1):
        await case_events.raise_event(session, registry, actor, case, "threat_level_raised",
                                      subject=f"screening:{screening.id}", occurs_on=today,
                                      previous_level=before.level, level=screening.level)


async def decide(session: AsyncSession, registry: AgencyRegistry, levels: Sequence[str], actor: Actor,
                 case_id: int, version: int, decision: ScreeningDecisionIn, today: dt.date) -> ThreatScreening:
    """The team's lead approves a classification awaiting her (it becomes the case's level, a rise raising its
    event once) or refuses it with a reason (the level stays; the history keeps both)."""
    case = await threat_plans.threat_case(session, actor, case_id, "screening", write=True)
    screening = (await session.execute(select(ThreatScreening).where(
        ThreatScreening.case_id == case.id, ThreatScreening.version == version))).scalar()
    if screening is None:
        raise NotFound(f"no classification version {version} on case {case_id}")
    policy.require_classification_decider(actor, case, await team_roles.lead_id(session, case.id), screening.by_id)
    note = decision.note.strip()
    if not decision.approve and not note:
        raise Invalid("say why the classification is refused", field="note")
    status = APPROVED if decision.approve else REFUSED
    decided = await session.execute(
        update(ThreatScreening).where(ThreatScreening.id == screening.id, ThreatScreening.status == PENDING)
        .values(status=status, decided_by_id=actor.id, decided_at=utcnow(), decision_note=note or None))
    if decided.rowcount != 1:
        raise Conflict(f"the classification of version {version} has been decided already", field="version")
    await session.refresh(screening)
    # The note is free text like the reasons: it stays with the classification, never in the audit.
    await audit.record(session, actor, f"screening.{status}", case_id=case.id, subject=f"screening:{screening.id}",
                       version=screening.version, level=screening.level)
    events.case_changed(session, case.id, "case")
    if decision.approve:
        await _raise_if_higher(session, registry, levels, actor, case, screening, today)
    return screening
