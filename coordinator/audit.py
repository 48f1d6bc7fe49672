"""The append-only, hash-chained audit log.

Each entry's hash covers its own content and the previous entry's hash, so an edited,
deleted or reordered entry breaks the chain from that point; ``verify`` names the first one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator.models import AuditEntry, utcnow
from coordinator.policy import Actor

GENESIS = "0" * 64
_LAST = select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)  # built once: every change reads it


def _canonical(entry: AuditEntry) -> bytes:
    at = entry.at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    body = [entry.id, at, entry.actor_id, entry.actor_agency, entry.action, entry.case_id,
            entry.subject, entry.detail, entry.prev_hash]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


async def _lock_chain(session: AsyncSession) -> None:
    """Serialise appends so two transactions never chain onto the same predecessor.
    SQLite already serialises writers (the server keeps one connection to it)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(7746001)"))


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    case_id: int | None = None,
    subject: str = "",
    **detail: Any,
) -> AuditEntry:
    """Append one entry in the caller's transaction: it commits or rolls back with the change."""
    await _lock_chain(session)
    last = (await session.execute(_LAST)).first()
    # Appends are serialised, so the next id is known before the insert: the hash (which covers
    # the id) is computed up front and the entry is written in one statement.
    entry = AuditEntry(
        id=(last.id + 1) if last else 1, at=utcnow(), actor_id=actor.id, actor_agency=actor.agency, action=action,
        case_id=case_id, subject=subject, detail=json.dumps(detail, sort_keys=True, default=str, separators=(",", ":")),
        prev_hash=last.hash if last else GENESIS,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class CaseEntry:
    at: dt.datetime
    action: str
    detail: dict


# Entries that record a reading, not a change of the case.
READINGS = ("information.disclosed",)


async def last_changed_by(session: AsyncSession, case_id: int) -> str | None:
    """The agency of whoever last changed the case (None: an administrator or the monitor), for
    an open page's "changed by … a moment ago"."""
    return (await session.execute(
        select(AuditEntry.actor_agency).where(AuditEntry.case_id == case_id, AuditEntry.action.not_in(READINGS))
        .order_by(AuditEntry.id.desc()).limit(1))).scalar()


async def case_entries(session: AsyncSession, case_id: int, action: str, limit: int = 20) -> list[CaseEntry]:
    """A case's newest entries of one kind (e.g. plugin failures, for its page), newest first."""
    rows = await session.execute(
        select(AuditEntry.at, AuditEntry.action, AuditEntry.detail)
        .where(AuditEntry.case_id == case_id, AuditEntry.action == action)
        .order_by(AuditEntry.id.desc()).limit(limit))
    return [CaseEntry(at, name, json.loads(detail)) for at, name, detail in rows]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str = ""


async def verify(session: AsyncSession) -> VerifyResult:
    """Walk the chain in id order; report the first entry whose hash or link does not hold."""
    prev = GENESIS
    checked = 0
    result = await session.stream_scalars(select(AuditEntry).order_by(AuditEntry.id))
    async for entry in result:
        if entry.prev_hash != prev:
            return VerifyResult(False, checked, entry.id, "does not link to the entry before it (an entry was deleted, inserted or reordered)")
        if entry_hash(entry) != entry.hash:
            return VerifyResult(False, checked, entry.id, "its content does not match its hash (the entry was edited)")
        prev = entry.hash
        checked += 1
    return VerifyResult(True, checked)
