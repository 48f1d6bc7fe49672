"""Retention: a closed case is kept for the retention period (a setting); then its text and the
personal details in it are removed, leaving the structure (who held which task, which consent
covered what, who saw which item) and the audit chain, which never held them and stays
verifiable. A case is due only while it is still closed and its closure is older than the
period; reopening a case takes it out of reach (its closure is no longer in force).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit
from coordinator.models import (
    AuditEntry,
    Case,
    CasePerson,
    CaseRevision,
    Closure,
    ConferenceNote,
    Consent,
    ConsentWithdrawal,
    IdempotencyKey,
    InformationItem,
    KeyDate,
    Override,
    RaisedEvent,
    Referral,
    ReferralEvent,
    Reopening,
    Task,
    TaskEvent,
    TaskSignOff,
)
from coordinator.policy import SYSTEM

REMOVED = "[removed]"
APPLIED = "retention.applied"
# Task titles a person typed (the agencies' own lists hold no personal detail).
TYPED_TASK_SOURCES = ("coordinator", "conference", "follow_up", "plan")


@dataclass(frozen=True)
class Due:
    case_id: int
    reference: str
    closed_at: dt.datetime


async def due(session: AsyncSession, now: dt.datetime, retention_days: int) -> list[Due]:
    """Closed cases whose closure is older than the period and whose text is not yet removed."""
    done = select(AuditEntry.case_id).where(AuditEntry.action == APPLIED)
    rows = (await session.execute(
        select(Case.id, Case.reference, Case.closed_at)
        .where(Case.closed_at.is_not(None), Case.closed_at <= now - dt.timedelta(days=retention_days),
               Case.id.not_in(done)).order_by(Case.id))).all()
    return [Due(*row) for row in rows]


def _scrub(model: type, *where: object, **values: object):  # noqa: ANN202
    return update(model).where(*where).values(**values)


async def remove_text(session: AsyncSession, case_id: int) -> None:
    """Remove the case's free text and personal details, table by table, in one transaction."""
    referrals = select(Referral.id).where(Referral.case_id == case_id)
    tasks = select(Task.id).where(Task.case_id == case_id)
    consents = select(Consent.id).where(Consent.case_id == case_id)
    for statement in (
        _scrub(Case, Case.id == case_id, summary="", concern="", judgement_reasons=None),
        _scrub(CasePerson, CasePerson.case_id == case_id, name=REMOVED, born_on=None),
        _scrub(KeyDate, KeyDate.case_id == case_id, note=""),
        _scrub(InformationItem, InformationItem.case_id == case_id, text=""),
        _scrub(CaseRevision, CaseRevision.case_id == case_id, reason=REMOVED, changes="{}"),
        _scrub(RaisedEvent, RaisedEvent.case_id == case_id, note=""),
        _scrub(ConferenceNote, ConferenceNote.case_id == case_id, text=REMOVED),
        _scrub(Consent, Consent.case_id == case_id, given_by=REMOVED, purpose=REMOVED),
        _scrub(ConsentWithdrawal, ConsentWithdrawal.consent_id.in_(consents), note=""),
        _scrub(Override, Override.case_id == case_id, justification=REMOVED, decision_note=None,
               not_informed_reason=None),
        _scrub(Closure, Closure.case_id == case_id, reasons=REMOVED, decision_note=None),
        _scrub(Reopening, Reopening.case_id == case_id, reason=REMOVED),
        _scrub(Referral, Referral.case_id == case_id, purpose=REMOVED, notes="", outcome=None, decline_reason=None),
        _scrub(ReferralEvent, ReferralEvent.referral_id.in_(referrals), note=""),
        _scrub(Task, Task.case_id == case_id, reason=None),
        _scrub(Task, Task.case_id == case_id, Task.source.in_(TYPED_TASK_SOURCES), title=REMOVED),
        _scrub(TaskEvent, TaskEvent.task_id.in_(tasks), reason=None),
        _scrub(TaskSignOff, TaskSignOff.case_id == case_id, reason=None, tasks="[]"),  # its tasks' titles too
    ):
        await session.execute(statement)


async def apply(session: AsyncSession, now: dt.datetime, retention_days: int) -> list[Due]:
    """Remove the text of every case due; the removal is recorded in the audit (ids only).
    Stored answers to retried requests are dropped too: they are copies of what was sent."""
    found = await due(session, now, retention_days)
    for case in found:
        await remove_text(session, case.case_id)
        await audit.record(session, SYSTEM, APPLIED, case_id=case.case_id, subject=f"case:{case.case_id}",
                           closed_at=case.closed_at, retention_days=retention_days)
    if found:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now))
    return found
