"""Notifications outside the app: the outbox.

A change that concerns someone writes its notices with ``notify`` in its own transaction, so a
notice exists exactly when the change committed (a rollback takes both away). A notice holds the
event's kind, a reference and a link to the page, never case content (DECISIONS.md): nothing the
gate guards can leave in a message. Each recipient gets one row per channel: a person's e-mail,
and the endpoints (webhooks) of the agency concerned. The database refuses a second row for the
same event and recipient, so an event noticed twice (a monitor run repeated, two processes at
once) is sent once. ``coordinator.delivery`` sends the rows after commit.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, policy
from coordinator.errors import Invalid
from coordinator.limits import Line
from coordinator.models import (
    AgendaItem,
    CaseAgency,
    Conference,
    Notification,
    Participant,
    ResearchReturn,
    User,
    WebhookEndpoint,
    utcnow,
)

# Each kind as a message names it (its subject line and a webhook's ``type``).
KINDS = {
    "referral": "A case was referred to your agency",
    "agenda_circulated": "The agenda was circulated",
    "research_due": "Your research is due",
    "research_overdue": "Your research is overdue",
    "action_assigned": "An action was assigned to you or your agency",
    "action_overdue": "An action is overdue",
    "override_awaiting": "An override awaits your decision",
    "closure_awaiting": "A closure awaits your decision",
    "override_decided": "Your override request was decided",
    "closure_decided": "Your closure request was decided",
    "minutes_ready": "The minutes are ready",
}
# What passes for an address here: something@somewhere.tld, no spaces (the mail server has the last word).
EMAIL = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")


@dataclass
class NotificationChoicesIn:
    """How a person is told of what concerns her: where e-mail goes (empty: no e-mail), whether it
    goes to her agency's own system too, and once a day or at once."""

    email: Line(254) = ""
    by_email: bool = True
    by_webhook: bool = True
    daily: bool = False


def choices_of(user: User) -> NotificationChoicesIn:
    return NotificationChoicesIn(user.email or "", user.notify_by_email, user.notify_by_webhook, user.notify_daily)


async def choose(session: AsyncSession, actor: policy.Actor, data: NotificationChoicesIn) -> User:
    """She changes her own choices (audited: which, not the address)."""
    email = data.email.strip()
    if email and not EMAIL.match(email):
        raise Invalid("give an e-mail address such as name@agency.example, or leave it empty", field="email")
    user = await session.get(User, actor.id)
    user.email = email or None
    user.notify_by_email, user.notify_by_webhook, user.notify_daily = data.by_email, data.by_webhook, data.daily
    await audit.record(session, actor, "account.notifications_chosen", subject=f"user:{user.id}",
                       email=user.email is not None, by_email=data.by_email, by_webhook=data.by_webhook,
                       daily=data.daily)
    return user


# Research is announced as due this long before its deadline.
RESEARCH_DUE_AHEAD = dt.timedelta(days=1)


@dataclass(frozen=True)
class Notice:
    """What a message says: the kind, a reference (a case's, or a conference's number), the page's
    path. ``key`` names the event, so the same event never reaches a recipient twice."""

    kind: str
    key: str
    reference: str
    link: str
    case_id: int | None = None


async def notify(session: AsyncSession, notice: Notice, *, users: Iterable[int] = (), agencies: Iterable[str] = (),
                 not_to: int | None = None) -> int:
    """Write ``notice`` for ``users`` and for the people and endpoints of ``agencies``, in the
    caller's transaction (``not_to``: the person who made the change). The rows written."""
    if notice.kind not in KINDS:
        raise ValueError(f"unknown notification kind {notice.kind!r}")
    agencies = set(agencies)
    people = (await session.execute(select(User).where(
        User.active.is_(True), User.id.in_(set(users)) | User.agency.in_(agencies)))).scalars().all()
    named = set(users)
    rows = []
    for person in people:
        if person.id == not_to:
            continue
        if person.notify_by_email and person.email:
            rows.append({"channel": "email", "recipient": f"user:{person.id}", "user_id": person.id})
        if person.id in named and person.notify_by_webhook and person.agency:
            agencies.add(person.agency)  # what concerns her goes to her agency's system too
    endpoints = (await session.execute(select(WebhookEndpoint.id).where(
        WebhookEndpoint.agency.in_(agencies), WebhookEndpoint.removed_at.is_(None)))).scalars().all()
    rows += [{"channel": "webhook", "recipient": f"endpoint:{endpoint}", "endpoint_id": endpoint}
             for endpoint in endpoints]
    if not rows:
        return 0
    now = utcnow()
    common = {"event_key": notice.key, "kind": notice.kind, "case_id": notice.case_id, "reference": notice.reference,
              "link": notice.link, "status": "waiting", "attempts": 0, "next_attempt_at": now, "created_at": now}
    values = [{"user_id": None, "endpoint_id": None, **common, **row} for row in rows]
    insert = postgresql_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    written = await session.execute(insert(Notification).values(values).on_conflict_do_nothing())
    return written.rowcount


def case_notice(kind: str, key: str, case_id: int, reference: str) -> Notice:
    return Notice(kind, key, reference, f"/cases/{case_id}", case_id)


def conference_notice(kind: str, key: str, conference_id: int, page: str = "") -> Notice:
    return Notice(kind, key, f"conference {conference_id}", f"/conferences/{conference_id}{page}")


async def supervisors(session: AsyncSession) -> list[int]:
    """Who decides overrides and closures."""
    return list((await session.execute(select(User.id).where(
        User.role == policy.APPROVER_ROLE, User.active.is_(True)))).scalars())


async def participants(session: AsyncSession, conference_id: int) -> list[int]:
    return list((await session.execute(select(Participant.user_id).where(
        Participant.conference_id == conference_id))).scalars())


async def research_reminders(session: AsyncSession, now: dt.datetime) -> int:
    """Each agency on a case of a circulated agenda, with no research submitted: told its research
    is due a day before the deadline, and overdue once it has passed (once each)."""
    rows = (await session.execute(
        select(Conference.id, Conference.research_due_at, AgendaItem.case_id, CaseAgency.agency)
        .join(AgendaItem, AgendaItem.conference_id == Conference.id)
        .join(CaseAgency, CaseAgency.case_id == AgendaItem.case_id)
        .join(Participant, (Participant.conference_id == Conference.id) & (Participant.agency == CaseAgency.agency))
        .outerjoin(ResearchReturn, (ResearchReturn.conference_id == Conference.id)
                   & (ResearchReturn.case_id == AgendaItem.case_id) & (ResearchReturn.agency == CaseAgency.agency)
                   & ResearchReturn.submitted_at.is_not(None))
        .where(Conference.status == "scheduled", Conference.agenda_circulated_at.is_not(None),
               Conference.research_due_at.is_not(None), Conference.research_due_at <= now + RESEARCH_DUE_AHEAD,
               ResearchReturn.id.is_(None))
        .distinct())).all()
    written = 0
    for conference_id, due_at, case_id, agency in rows:
        kind = "research_overdue" if due_at < now else "research_due"
        notice = conference_notice(kind, f"{kind}:conference:{conference_id}:case:{case_id}:{agency}",
                                   conference_id, "/research")
        written += await notify(session, notice, agencies=[agency])
    return written
