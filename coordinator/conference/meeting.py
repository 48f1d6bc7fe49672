"""Running the meeting: the chair starts it, moves from case to case, reorders the agenda and
ends it; the chair and the minute-taker record decisions and notes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events, notifications, policy
from coordinator.conference import research
from coordinator.conference.participation import Seat, agenda_case, load_conference, participant_of, seat
from coordinator.errors import Conflict, Invalid, NotFound, require_version
from coordinator.limits import Count, Id, ListOf, OneOf, Written
from coordinator.models import AgendaItem, Conference, ConferenceNote, Task, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

NOTE_KINDS = ("decision", "note")


MAX_NOTE = 5000
NOTE_REFUSAL = f"write the note (up to {MAX_NOTE} characters)"


@dataclass
class VersionIn:
    version: Count


@dataclass
class MoveIn:
    item_id: Id
    version: Count


@dataclass
class AgendaOrderIn:
    order: ListOf(1000, Id)  # agenda item ids, first to last
    version: Count


@dataclass
class NoteIn:
    case_id: Id
    kind: OneOf(NOTE_KINDS)
    text: Written(MAX_NOTE, NOTE_REFUSAL)


@dataclass
class NoteCorrectionIn:
    """A decision or note corrected: a new version that supersedes the one the writer saw."""

    note_id: Id
    text: Written(MAX_NOTE, NOTE_REFUSAL)


async def _agenda(session: AsyncSession, conference_id: int) -> list[AgendaItem]:
    return list((await session.execute(
        select(AgendaItem).where(AgendaItem.conference_id == conference_id).order_by(AgendaItem.position)
    )).scalars())


async def _require_actions_confirmed(session: AsyncSession, registry: AgencyRegistry, conference: Conference,
                                     item: AgendaItem | None, doing: str) -> None:
    """The meeting leaves a case only once each owning agency has confirmed its actions."""
    if item is None:
        return
    waiting = (await session.execute(
        select(Task.agency).where(Task.conference_id == conference.id, Task.case_id == item.case_id,
                                  Task.confirmed_at.is_(None)).distinct().order_by(Task.agency)
    )).scalars().all()
    if waiting:
        raise Conflict(f"each agency must confirm its actions on this case before you {doing}: waiting for "
                       + ", ".join(registry.name(a) for a in waiting))


async def _chair_seat(session: AsyncSession, actor: Actor, conference_id: int, version: int, doing: str, *,
                      live: bool = True) -> Seat:
    place = await seat(session, actor, conference_id, live=live)
    policy.require_chair(place.participant, doing)
    await _claim_version(session, place.conference, version, "the conference")
    return place


async def _claim_version(session: AsyncSession, conference: Conference, seen: int, what: str) -> None:
    """Move the conference to its next version, only if it is still the one the actor saw. The
    compare is part of the UPDATE, so of two changes made on the same view exactly one wins,
    across processes too; it is taken before the change, so the row stays locked until commit."""
    claimed = await session.execute(update(Conference).where(Conference.id == conference.id,
                                                             Conference.version == seen).values(version=seen + 1))
    if claimed.rowcount != 1:  # versions only grow, so the current one differs from ``seen``
        await session.refresh(conference)
        require_version(conference.version, seen, what)


async def _moved(session: AsyncSession, actor: Actor, conference: Conference, what: str, **detail: object) -> None:
    """The meeting moved (started, on to another case, ended): audited, announced (its new
    version was claimed before the change)."""
    await audit.record(session, actor, f"conference.{what}", subject=f"conference:{conference.id}", **detail)
    events.conference_changed(session, conference.id, "status")


async def start_conference(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                           data: VersionIn) -> None:
    """The chair starts the meeting at the first case on the agenda."""
    conference = (await _chair_seat(session, actor, conference_id, data.version, "start the conference",
                                    live=False)).conference
    if conference.status != "scheduled":
        raise Conflict(f"the conference is {conference.status}: it can be started only once")
    agenda = await _agenda(session, conference_id)
    agenda[0].status, agenda[0].started_at = "current", utcnow()
    conference.current_item_id = agenda[0].id
    conference.status, conference.started_at = "live", agenda[0].started_at
    await research.open_at_meeting(session, actor, conference_id, agenda[0].case_id)
    await _moved(session, actor, conference, "started")


async def move_to_case(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                       move: MoveIn) -> None:
    """The chair moves the meeting to another case; every page follows."""
    conference = (await _chair_seat(session, actor, conference_id, move.version,
                                    "move the conference to another case")).conference
    agenda = {item.id: item for item in await _agenda(session, conference_id)}
    target = agenda.get(move.item_id)
    if target is None:
        raise Invalid(f"agenda item {move.item_id} is not on this conference's agenda", field="item_id")
    if target.id == conference.current_item_id:
        raise Conflict("the conference is already on that case", field="item_id")
    current = agenda.get(conference.current_item_id or 0)
    await _require_actions_confirmed(session, registry, conference, current, "move to another case")
    if current is not None:
        current.status = "discussed"
    first_opening = target.started_at is None
    target.status, target.started_at = "current", utcnow()  # the chair's time-box counts from here
    conference.current_item_id = target.id
    if first_opening:
        await research.open_at_meeting(session, actor, conference_id, target.case_id)
    await _moved(session, actor, conference, "moved", case_id=target.case_id, item_id=target.id)


async def reorder_agenda(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                         data: AgendaOrderIn) -> None:
    """Put the agenda in the order given by hand (every item exactly once)."""
    conference = await load_conference(session, conference_id)
    policy.require_organiser(actor, await participant_of(session, conference_id, actor.id), "reorder the agenda")
    if conference.status == "ended":
        raise Conflict("the conference has ended")
    await _claim_version(session, conference, data.version, "the agenda")
    items = {item.id: item for item in await _agenda(session, conference_id)}
    if sorted(data.order) != sorted(items):
        raise Invalid("give every agenda item exactly once", field="order")
    for position, item_id in enumerate(data.order):
        items[item_id].position = position
    await audit.record(session, actor, "conference.agenda_reordered", subject=f"conference:{conference_id}",
                       order=data.order)
    events.conference_changed(session, conference_id, "agenda")


async def end_conference(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                         data: VersionIn) -> None:
    """The chair ends the meeting; the minutes can be read at once."""
    conference = (await _chair_seat(session, actor, conference_id, data.version, "end the conference")).conference
    agenda = {item.id: item for item in await _agenda(session, conference_id)}
    current = agenda.get(conference.current_item_id or 0)
    await _require_actions_confirmed(session, registry, conference, current, "end the conference")
    if current is not None:
        current.status = "discussed"
    conference.current_item_id = None
    conference.status, conference.ended_at = "ended", utcnow()
    await notifications.notify(session, notifications.conference_notice(
        "minutes_ready", f"minutes:conference:{conference_id}", conference_id, "/minutes"),
        users=await notifications.participants(session, conference_id), not_to=actor.id)
    await _moved(session, actor, conference, "ended")


def _note_text(text: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_NOTE:
        raise Invalid(NOTE_REFUSAL, field="text")
    return text


async def add_note(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                   data: NoteIn) -> None:
    """The chair or the minute-taker records a decision or a note on a case they may see."""
    place = await seat(session, actor, conference_id, live=True)
    policy.require_note_taker(place.participant)
    if data.kind not in NOTE_KINDS:
        raise Invalid(f"kind must be one of {', '.join(NOTE_KINDS)}", field="kind")
    text = _note_text(data.text)
    await agenda_case(session, place, data.case_id)
    note = ConferenceNote(conference_id=conference_id, case_id=data.case_id, kind=data.kind, text=text, by_id=actor.id)
    session.add(note)
    await session.flush()
    await audit.record(session, actor, f"conference.{data.kind}", case_id=data.case_id,
                       subject=f"conference:{conference_id}", note_id=note.id)
    events.conference_changed(session, conference_id, "notes")


async def correct_note(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                       data: NoteCorrectionIn) -> None:
    """The chair or the minute-taker corrects a decision or note: never in place. The corrected
    version supersedes the old one, which stays as history; after the meeting it is an addendum
    to the minutes, dated."""
    place = await seat(session, actor, conference_id)
    policy.require_note_taker(place.participant)
    if place.conference.status == "scheduled":
        raise Conflict("the conference has not started: there is nothing to correct yet")
    old = (await session.execute(select(ConferenceNote).where(
        ConferenceNote.id == data.note_id, ConferenceNote.conference_id == conference_id))).scalar()
    if old is None:
        raise NotFound(f"no note {data.note_id} in conference {conference_id}")
    await agenda_case(session, place, old.case_id)
    text = _note_text(data.text)
    # Only the newest version is corrected, in the UPDATE itself: two corrections at once cannot both win.
    marked = await session.execute(update(ConferenceNote).where(
        ConferenceNote.id == old.id, ConferenceNote.superseded.is_(False)).values(superseded=True))
    if marked.rowcount != 1:
        raise Conflict(f"note {old.id} has been corrected already: correct its newest version", field="note_id")
    note = ConferenceNote(conference_id=conference_id, case_id=old.case_id, kind=old.kind, text=text,
                          by_id=actor.id, supersedes_id=old.id)
    session.add(note)
    await session.flush()
    await audit.record(session, actor, f"conference.{old.kind}_corrected", case_id=old.case_id,
                       subject=f"conference:{conference_id}", note_id=note.id, supersedes=old.id)
    events.conference_changed(session, conference_id, "notes")
