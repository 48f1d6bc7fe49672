"""Earlier and later cases of the same people: the check at intake, the coordinator's decisions
("same person" links two cases, "not the same" is remembered so the pair is not asked again), and a
case's linked cases through the gate.

A referred person is a candidate for someone on an existing case when their names are alike (every
part of the shorter name matched, in any order) and their dates of birth do not differ (the same, a
typing slip apart, or one of them unknown); a name of one part alone is not enough without a date of
birth that agrees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Row, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events, policy
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.limits import Id
from coordinator.models import Case, CaseLink
from coordinator.names import LIKE_ENOUGH, mutual_likeness, name_parts, slips_of, sound_keys
from coordinator.policy import Actor
from coordinator.search import agencies_by_case, candidate_people


@dataclass
class DecisionIn:
    """The coordinator's answer about one earlier case: the same person (linked) or not."""

    case_id: Id
    same: bool


@dataclass(frozen=True)
class Candidate:
    case_id: int
    reference: str
    stage: str
    referred_on: dt.date
    reasons: tuple[str, ...]

    def as_json(self) -> dict:
        return {"case_id": self.case_id, "reference": self.reference, "stage": self.stage,
                "referred_on": self.referred_on.isoformat(), "reasons": list(self.reasons)}


class DuplicatesUndecided(Conflict):
    """Possible earlier cases of the people referred that the coordinator has not decided on."""

    def __init__(self, undecided: list[Candidate]) -> None:
        super().__init__(
            f"{len(undecided)} existing case(s) may concern the people referred: say for each whether it is the same "
            "person", field="duplicates")
        self.extra = {"candidates": [c.as_json() for c in undecided]}


def _date_agreement(one: dt.date | None, other: dt.date | None) -> str | None:
    """How two dates of birth agree: a reason, "" when one is unknown, None when they differ."""
    if one is None or other is None:
        return ""
    if one == other:
        return "same date of birth"
    return "date of birth one slip away" if other in slips_of(one) else None


def _reason(person: Person, wanted: list[str], held: Row, found: list[str]) -> str | None:
    """Why ``held`` (of name parts ``found``) may be ``person`` (of name parts ``wanted``), or None."""
    shorter = min(len(wanted), len(found))
    if shorter == 0 or mutual_likeness(wanted, found) < LIKE_ENOUGH:
        return None
    dates = _date_agreement(person.born_on, held.born_on)
    if dates is None or (shorter < 2 and not dates):
        return None
    named = "same name" if sorted(wanted) == sorted(found) else "names sound alike"
    return f"{person.role} “{person.name}” and {held.role} “{held.name}”: {named}" + (f", {dates}" if dates else "")


@dataclass(frozen=True)
class Person:
    role: str
    name: str
    born_on: dt.date | None


async def candidates(session: AsyncSession, people: Iterable[Person], excluding: set[int] = frozenset()) -> list[Candidate]:
    """Existing cases (other than ``excluding``) on which someone may be one of ``people``, with why."""
    people = list(people)
    held = await candidate_people(session, {key for p in people for key in sound_keys(p.name)},
                                  {day for p in people if p.born_on for day in {p.born_on, *slips_of(p.born_on)}})
    reasons: dict[int, list[str]] = {}
    cases = {}  # each person's row carries her case's reference, stage and opening
    referred = [(person, name_parts(person.name)) for person in people]  # each name split once, not per row
    for row in held:
        if row.case_id in excluding:
            continue
        held_parts = name_parts(row.name)
        for person, wanted in referred:
            reason = _reason(person, wanted, row, held_parts)
            if reason:
                reasons.setdefault(row.case_id, []).append(reason)
                cases[row.case_id] = row
    return [Candidate(case_id, cases[case_id].reference, cases[case_id].stage, cases[case_id].created_at.date(),
                      tuple(reasons[case_id])) for case_id in sorted(reasons)]


async def decided_with(session: AsyncSession, case_id: int) -> set[int]:
    """The cases already decided on (same or not) with ``case_id``, either way round."""
    rows = await session.execute(select(CaseLink.earlier_case_id, CaseLink.later_case_id).where(
        or_(CaseLink.earlier_case_id == case_id, CaseLink.later_case_id == case_id)))
    return {other for pair in rows for other in pair if other != case_id}


async def check_intake(session: AsyncSession, people: Iterable[Person], decisions: list[DecisionIn]) -> list[Case]:
    """Before a case is created: every candidate must be decided; the earlier cases said to be the
    same person are returned. Raises ``DuplicatesUndecided`` listing the undecided ones."""
    decided = {d.case_id for d in decisions}
    undecided = [c for c in await candidates(session, people) if c.case_id not in decided]
    if undecided:
        raise DuplicatesUndecided(undecided)
    same = []
    for i, decision in enumerate(decisions):
        earlier = await session.get(Case, decision.case_id)
        if earlier is None:
            raise Invalid(f"no case {decision.case_id} to decide on", field=f"duplicates[{i}].case_id")
        if decision.same:
            same.append(earlier)
    if len(decided) != len(decisions):
        raise Invalid("decide on each earlier case once", field="duplicates")
    return same


async def record_decision(session: AsyncSession, actor: Actor, earlier_id: int, later_id: int, same: bool) -> CaseLink:
    """One decision about a pair of cases; a second decision on the same pair is refused (the unique
    pair decides, not a read before the write)."""
    link = CaseLink(earlier_case_id=earlier_id, later_case_id=later_id, same=same, decided_by_id=actor.id)
    try:
        async with session.begin_nested():
            session.add(link)
    except IntegrityError:
        raise Conflict("these two cases have already been decided on", field="case_id") from None
    await audit.record(session, actor, "case.linked" if same else "case.not_linked", case_id=later_id,
                       subject=f"case:{earlier_id}")
    for case_id in (earlier_id, later_id):  # both summaries list their linked cases
        events.case_changed(session, case_id, "case")
    return link


async def link_cases(session: AsyncSession, actor: Actor, case_id: int, decision: DecisionIn) -> CaseLink:
    """A coordinator decides on a possible match found for an existing case (the older case is the earlier)."""
    policy.require_coordinator(actor, "link cases")
    if decision.case_id == case_id:
        raise Invalid("a case cannot be linked to itself", field="case_id")
    pair = (await session.execute(select(Case.id, Case.created_at).where(Case.id.in_([case_id, decision.case_id]))
                                  .order_by(Case.created_at, Case.id))).all()
    if not any(row.id == case_id for row in pair):
        raise NotFound(f"no case {case_id}")
    if len(pair) < 2:
        raise Invalid(f"no case {decision.case_id} to decide on", field="case_id")
    return await record_decision(session, actor, pair[0].id, pair[1].id, decision.same)


async def open_candidates(session: AsyncSession, actor: Actor, case: Case) -> list[Candidate]:
    """Possible matches of an existing case's people not yet decided on (for a coordinator)."""
    policy.require_coordinator(actor, "check a case for earlier cases")
    people = [Person(p.role, p.name, p.born_on) for p in case.people]
    return await candidates(session, people, excluding={case.id, *await decided_with(session, case.id)})


@dataclass(frozen=True)
class Linked:
    """An earlier or later case of the same person, as one reader may see it: the reference only
    when they may see that case."""

    case_id: int | None
    reference: str | None
    referred_on: dt.date | None
    later: bool


async def linked_cases(session: AsyncSession, actor: Actor, case_id: int) -> list[Linked]:
    """The cases linked to ``case_id`` as the same person, oldest first, through the gate: a case the
    reader may not see is listed without its id or reference."""
    links = (await session.execute(select(CaseLink).where(CaseLink.same.is_(True), or_(
        CaseLink.earlier_case_id == case_id, CaseLink.later_case_id == case_id)))).scalars().all()
    others = {(link.later_case_id if link.earlier_case_id == case_id else link.earlier_case_id):
              link.earlier_case_id == case_id for link in links}
    if not others:
        return []
    agencies = await agencies_by_case(session, list(others))
    rows = (await session.execute(select(Case.id, Case.reference, Case.created_at).where(Case.id.in_(others))
                                  .order_by(Case.created_at, Case.id))).all()
    shown = []
    for row in rows:
        visible = policy.may_see_case(actor, agencies[row.id])
        shown.append(Linked(row.id, row.reference, row.created_at.date(), others[row.id]) if visible
                     else Linked(None, None, None, others[row.id]))
    return shown
