"""Finding people and cases: by name (tolerant of spelling), date of birth and reference.

A name is found by how its parts sound: each part's Metaphone key is stored, indexed, when the name
is written (``PersonNameKey``), so "Nora Smyth" finds "Norah Smith" with one indexed lookup on
SQLite and PostgreSQL alike; candidates are then ranked by the Jaro-Winkler likeness of their parts
in any order (swapped first and last names match). A date of birth finds the same date and the dates
one typing slip away (a digit changed, two digits swapped, day and month swapped).

What a reader learns is decided by ``policy``: a match on a case they may see shows the case; any
other match shows only that a possible earlier case exists. Every search is audited.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Row, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, policy
from coordinator.errors import Invalid
from coordinator.models import Case, CaseAgency, CasePerson, PersonNameKey, SearchQuery
from coordinator.names import LIKE_ENOUGH, likeness, name_parts, slips_of, sound_keys
from coordinator.policy import Actor

PAGE_SIZE = 20
MAX_QUERY = 200
MAX_CANDIDATES = 500  # people ranked for one search: those whose name shares most sounds with it
WILDCARDS = re.compile(r"[\s*%?_.]+")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")  # tabs and newlines are only spaces here
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")


# --- the query -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    names: list[str] = field(default_factory=list)
    dates: list[dt.date] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


def _date(token: str) -> dt.date | None:
    for form in DATE_FORMATS:
        try:
            return dt.datetime.strptime(token, form).date()
        except ValueError:
            continue
    return None


def parse(text: str) -> Query:
    """A search as typed: name parts, dates of birth and case references, in any order."""
    if len(text) > MAX_QUERY:
        raise Invalid(f"a search is at most {MAX_QUERY} characters", field="q")
    if CONTROL.search(text):
        raise Invalid("a search holds no control characters", field="q")
    if len(WILDCARDS.sub("", text)) < 2:
        raise Invalid("search for at least two letters or digits (wildcards alone match everything)", field="q")
    query = Query()
    for token in text.split():
        day = _date(token)
        if day is not None:
            query.dates.append(day)
        elif any(ch.isdigit() for ch in token):
            query.references.append(token.strip("*%").upper())
        else:
            query.names.extend(name_parts(token))
    if not (query.names or query.dates or query.references):
        raise Invalid("search for a name, a date of birth (YYYY-MM-DD) or a case reference", field="q")
    return query


# --- matching --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PersonMatch:
    role: str
    name: str
    born_on: dt.date | None
    why: str


@dataclass
class Hit:
    """One case that matched, with its people that did and why."""

    case_id: int
    reference: str
    stage: str
    created_at: dt.datetime
    score: float = 0.0
    people: list[PersonMatch] = field(default_factory=list)
    why: str = ""


def _date_score(born_on: dt.date | None, dates: list[dt.date]) -> tuple[float, str]:
    if born_on is None:
        return 0.0, ""
    if born_on in dates:
        return 1.0, "same date of birth"
    if any(born_on in slips_of(day) for day in dates):
        return 0.8, "date of birth one slip away"
    return 0.0, ""


def _name_why(wanted: list[str], held: list[str]) -> str:
    return "same name" if sorted(wanted) == sorted(held) or set(wanted) <= set(held) else "name sounds alike"


# What a match needs of a person and of her case: read as plain rows, not as entities (a search
# reads up to a thousand of them and changes none; building entities was most of its time).
PERSON_COLUMNS = (CasePerson.id, CasePerson.case_id, CasePerson.role, CasePerson.name, CasePerson.born_on,
                  Case.reference, Case.stage, Case.created_at)
CASE_COLUMNS = (Case.id, Case.reference, Case.stage, Case.created_at)


async def candidate_people(session: AsyncSession, keys: set[str], dates: set[dt.date]) -> list[Row]:
    """The people (rows of ``PERSON_COLUMNS``, with their case's reference, stage and opening) whose
    name shares a sound with ``keys`` (those sharing most first, at most ``MAX_CANDIDATES``) or who were
    born on one of ``dates``: one query of two indexed lookups, one round trip to the database."""
    found = []
    if keys:
        found.append(select(PersonNameKey.person_id).where(PersonNameKey.key.in_(sorted(keys)))
                     .group_by(PersonNameKey.person_id).order_by(func.count().desc(), PersonNameKey.person_id)
                     .limit(MAX_CANDIDATES))
    if dates:
        found.append(select(CasePerson.id).where(CasePerson.born_on.in_(sorted(dates))))
    if not found:
        return []
    # Each lookup its own subquery, joined by UNION: an OR of the two would read every person.
    ids = union(*(select(lookup.subquery().c[0]) for lookup in found)).subquery()
    return list((await session.execute(
        select(*PERSON_COLUMNS).join(Case, Case.id == CasePerson.case_id).where(CasePerson.id.in_(select(ids.c[0])))
        .order_by(CasePerson.id).limit(2 * MAX_CANDIDATES))).all())


async def find(session: AsyncSession, query: Query) -> list[Hit]:
    """Every case that matches, best first (not gated: ``search`` gates)."""
    dates = set(query.dates) | {slip for day in query.dates for slip in slips_of(day)}
    hits: dict[int, Hit] = {}
    matched: dict[int, list[tuple[float, Row, str]]] = defaultdict(list)
    for person in await candidate_people(session, {k for n in query.names for k in sound_keys(n)}, dates):
        held = name_parts(person.name)
        parts, reasons, matches = [], [], True
        if query.names:
            name_score = likeness(query.names, held)
            parts.append(name_score)
            matches = name_score >= LIKE_ENOUGH
            reasons.append(_name_why(query.names, held))
        if query.dates:
            date_score, why = _date_score(person.born_on, query.dates)
            parts.append(date_score)
            # A date of birth not recorded does not rule her out; another one does.
            matches = matches and (bool(why) or (person.born_on is None and bool(query.names)))
            if why:
                reasons.append(why)
        if matches:
            matched[person.case_id].append((sum(parts) / len(parts), person, ", ".join(r for r in reasons if r)))
    if query.references:
        for case in (await session.execute(select(*CASE_COLUMNS).where(
                or_(*(Case.reference.startswith(ref, autoescape=True) for ref in query.references))))).all():
            hits[case.id] = Hit(case.id, case.reference, case.stage, case.created_at, 1.0, why="reference")
    for case_id, found in matched.items():
        people = sorted(found, key=lambda m: -m[0])
        case = people[0][1]  # each person's row carries her case's reference, stage and opening
        hit = hits.setdefault(case_id, Hit(case_id, case.reference, case.stage, case.created_at))
        hit.score = max(hit.score, people[0][0])
        hit.people = [PersonMatch(p.role, p.name, p.born_on, why) for _, p, why in people]
    return sorted(hits.values(), key=lambda h: (-h.score, -h.case_id))


async def agencies_by_case(session: AsyncSession, case_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {case_id: [] for case_id in case_ids}
    for case_id, agency in await session.execute(
            select(CaseAgency.case_id, CaseAgency.agency).where(CaseAgency.case_id.in_(case_ids))):
        found[case_id].append(agency)
    return found


# --- a search, through the gate --------------------------------------------------------------

ELSEWHERE = "A possible earlier case exists: ask the coordinator."


@dataclass(frozen=True)
class Results:
    text: str
    page: int
    pages: int
    total: int
    hits: list[Hit]
    elsewhere: bool  # matches on cases the reader may not see: told only that one exists


async def search(session: AsyncSession, actor: Actor, text: str, page: int = 1) -> Results:
    """Search as ``actor``: matches on cases they may see, a page at a time; of any other match only
    that it exists. The search is audited (who, when, what was shown; the words in the search log)."""
    policy.require_searcher(actor)
    if page < 1:
        raise Invalid("pages are numbered from 1", field="page")
    text = text.strip()
    hits = await find(session, parse(text))
    agencies = await agencies_by_case(session, [h.case_id for h in hits])
    visible = [h for h in hits if policy.may_see_case(actor, agencies[h.case_id])]
    shown = visible[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    logged = SearchQuery(user_id=actor.id, text=text)
    session.add(logged)
    await session.flush()
    await audit.record(session, actor, "search.made", subject=f"search:{logged.id}",
                       shown=[h.case_id for h in shown], withheld=len(hits) - len(visible), page=page)
    return Results(text, page, max(1, -(-len(visible) // PAGE_SIZE)), len(visible), shown, len(visible) < len(hits))
