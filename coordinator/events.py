"""Domain events: facts about what changed, announced only once the change is committed.

A service calls ``emit(session, event)`` inside its transaction. Nothing leaves the process
then: the events wait on the session and are handed to the session's publisher right after a
successful commit, and dropped on a rollback, so no page ever hears of a change that did not
happen. Services name what moved in domain terms (``parts``); which page fragments that
touches is the live hub's business, not theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

# What a case change can move (CaseChanged.parts).
CASE_PARTS = frozenset({"case", "agencies", "items", "consents", "overrides", "tasks", "roles", "events", "follow_ups"})
# What a conference change can move (ConferenceChanged.parts).
CONFERENCE_PARTS = frozenset({"status", "agenda", "participants", "roles", "actions", "notes"})


@dataclass(frozen=True)
class CaseChanged:
    case_id: int
    parts: frozenset[str]


@dataclass(frozen=True)
class ConferenceChanged:
    conference_id: int
    parts: frozenset[str]


@dataclass(frozen=True)
class SessionsEnded:
    """A person's login sessions ended (logout, expiry, deactivation): open pages must close.
    ``session_key`` names one session; None means every session of the user."""

    user_id: int
    session_key: str | None = None


Event = CaseChanged | ConferenceChanged | SessionsEnded
Publisher = Callable[[list[Event]], None]

log = logging.getLogger("coordinator.events")

_PENDING = "coordinator.events"
_PUBLISHER = "coordinator.publisher"


def case_changed(session: AsyncSession, case_id: int, *parts: str) -> None:
    emit(session, CaseChanged(case_id, _checked(parts, CASE_PARTS)))


def conference_changed(session: AsyncSession, conference_id: int, *parts: str) -> None:
    emit(session, ConferenceChanged(conference_id, _checked(parts, CONFERENCE_PARTS)))


def _checked(parts: Iterable[str], known: frozenset[str]) -> frozenset[str]:
    parts = frozenset(parts)
    if not parts or parts - known:
        raise ValueError(f"unknown parts {sorted(parts - known)}")
    return parts


def emit(session: AsyncSession, fact: Event) -> None:
    """Announce ``fact`` once the session's transaction commits (never if it rolls back)."""
    session.sync_session.info.setdefault(_PENDING, []).append(fact)


def attach(sessionmaker: async_sessionmaker[AsyncSession], publish: Publisher) -> None:
    """Every session this sessionmaker makes hands its committed events to ``publish``."""
    sessionmaker.configure(info={**sessionmaker.kw.get("info", {}), _PUBLISHER: publish})


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    publish = session.info.get(_PUBLISHER)
    if pending and publish is not None:
        try:
            publish(_merged(pending))
        except Exception:  # the change is committed: a failed announcement must not undo its answer
            log.exception("committed changes could not be announced to open pages")


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: object) -> None:
    session.info.pop(_PENDING, None)


def _merged(facts: list[Event]) -> list[Event]:
    """One event per case and per conference, with the union of their parts."""
    cases: dict[int, frozenset[str]] = {}
    conferences: dict[int, frozenset[str]] = {}
    others: list[Event] = []
    for fact in facts:
        if isinstance(fact, CaseChanged):
            cases[fact.case_id] = cases.get(fact.case_id, frozenset()) | fact.parts
        elif isinstance(fact, ConferenceChanged):
            conferences[fact.conference_id] = conferences.get(fact.conference_id, frozenset()) | fact.parts
        elif fact not in others:
            others.append(fact)
    return ([CaseChanged(i, p) for i, p in cases.items()] + [ConferenceChanged(i, p) for i, p in conferences.items()]
            + others)
