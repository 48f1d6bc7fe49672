"""The screening of a threat-assessment case: the team's classification of the report (levels from the
setting COORDINATOR_THREAT_LEVELS, lowest first), its reasons and who took part.

Each classification is a new version (1 for the first screening), never an edit: the unique
(case, version) decides between two team members classifying at once, and the history keeps every
version. A classification above the one before it raises the case's ``threat_level_raised`` event,
once, through the agencies' plugins as a risk rise does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, policy
from coordinator.errors import Conflict, Invalid
from coordinator.lifecycle import case_events, threat_plans
from coordinator.limits import Count, Id, Line, ListOf, Written
from coordinator.models import ThreatScreening, User
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

MAX_REASONS = 4_000


@dataclass
class ScreeningIn:
    """A classification of the case: ``version`` is the screening version the team saw (0 before the
    first screening), so a re-classification made meanwhile is not silently overwritten."""

    version: Count
    level: Line(60)
    reasons: Written(MAX_REASONS, "say why the team classified the threat so")
    participants: ListOf(30, Id) = field(default_factory=list)


@dataclass(frozen=True)
class ScreeningView:
    version: int
    level: str
    reasons: str
    participants: list[str]  # names, in the order given
    by: str
    at: dt.datetime


async def latest(session: AsyncSession, case_id: int) -> ThreatScreening | None:
    return (await session.execute(select(ThreatScreening).where(ThreatScreening.case_id == case_id)
                                  .order_by(ThreatScreening.version.desc()).limit(1))).scalar()


async def history(session: AsyncSession, case_id: int) -> list[ScreeningView]:
    """Every classification of the case, newest first, with the names of who took part and who recorded it."""
    screenings = list((await session.execute(select(ThreatScreening).where(ThreatScreening.case_id == case_id)
                                             .order_by(ThreatScreening.version.desc()))).scalars())
    ids = {s.by_id for s in screenings} | {i for s in screenings for i in s.participant_ids}
    names = dict((await session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))).all())
    return [ScreeningView(s.version, s.level, s.reasons, [names.get(i, "") for i in s.participant_ids],
                          names.get(s.by_id, ""), s.at) for s in screenings]


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
    """Screen the case (the first classification) or re-classify it; a rise raises its event once."""
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
    screening = ThreatScreening(case_id=case.id, version=seen + 1, level=screening_in.level,
                                reasons=screening_in.reasons.strip(), participants=json.dumps(participants),
                                by_id=actor.id)
    try:
        async with session.begin_nested():  # two classifications at once: the unique (case, version) decides
            session.add(screening)
    except IntegrityError:
        raise Conflict("someone classified the case meanwhile: check the latest classification and try again",
                       field="version") from None
    # The reasons are free text: the audit names the record, never its words.
    await audit.record(session, actor, "case.screened", case_id=case.id, subject=f"screening:{screening.id}",
                       version=screening.version, level=screening.level, participants=participants)
    events.case_changed(session, case.id, "case")
    rank = {level: i for i, level in enumerate(levels)}
    if before is not None and rank[screening.level] > rank.get(before.level, -1):
        await case_events.raise_event(session, registry, actor, case, "threat_level_raised",
                                      subject=f"screening:{screening.id}", occurs_on=today,
                                      previous_level=before.level, level=screening.level)
    return screening
