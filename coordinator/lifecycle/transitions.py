"""The case's lifecycle: every move of its state (a stage move, a closure requested, refused or
approved, a reopening) is made here, by one function, from the states it is allowed from.

Each move bumps the case's version in the same UPDATE that checks the version the person saw and
the state it starts from, so two moves made at once through two processes cannot both pass. The
state it came from is read before the UPDATE (the ORM would otherwise show the new one), and the
history's revision records ``stage: [from, to]`` whenever the stage changes, so the stage's chain
through the history is continuous.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events, policy
from coordinator.errors import Conflict
from coordinator.models import Case, CaseRevision
from coordinator.policy import Actor

# Closing is its own step, with a criterion, a review and a supervisor's approval.
OPEN_STAGES = ("referral", "information_gathering", "conference", "action_plan", "follow_up")
CLOSED = "closed"


@dataclass(frozen=True)
class Transition:
    """One kind of move: the history's kind for it, the stages it may start from, and the stage
    it leads to (None: the stage stays, or for a stage move the person chooses it)."""

    kind: str
    allowed_from: frozenset[str]
    to: str | None = None

    @property
    def from_closed(self) -> bool:
        return CLOSED in self.allowed_from


STAGE_MOVE = Transition("stage_moved", frozenset(OPEN_STAGES))
CLOSURE_REQUEST = Transition("closure_requested", frozenset(OPEN_STAGES))
CLOSURE_REFUSAL = Transition("closure_refused", frozenset(OPEN_STAGES))
CLOSURE_APPROVAL = Transition("closed", frozenset(OPEN_STAGES), to=CLOSED)
REOPENING = Transition("reopened", frozenset({CLOSED}), to="follow_up")
# A new referral of the people of an open case is recorded on it: the stage stays.
REFERRAL_ADDED = Transition("referral_added", frozenset(OPEN_STAGES))
TRANSITIONS = (STAGE_MOVE, CLOSURE_REQUEST, CLOSURE_REFUSAL, CLOSURE_APPROVAL, REOPENING, REFERRAL_ADDED)


async def move(session: AsyncSession, actor: Actor, case: Case, transition: Transition, *, seen: int, reason: str,
               to: str | None = None, values: dict[str, object] | None = None,
               changes: dict[str, list] | None = None, subject: str | None = None,
               parts: tuple[str, ...] = ("case",), **audited: object) -> CaseRevision:
    """Move ``case`` (as loaded in this transaction) by ``transition`` if it is still at version
    ``seen`` and in a stage the transition starts from: the version becomes ``seen + 1``, the
    revision records the stage's from and to (and ``changes``), the move is audited as
    ``case.<kind>`` and announced with ``parts``. 409 when the case is closed (or open, for a
    reopening) or was changed meanwhile."""
    before = case.stage  # read before the UPDATE: afterwards the row holds the new stage
    after = transition.to or to or before
    _require_allowed(case, transition, before)
    condition = [Case.id == case.id, Case.version == seen, Case.stage.in_(transition.allowed_from),
                 Case.closed_at.is_not(None) if transition.from_closed else Case.closed_at.is_(None)]
    # The ORM is not asked to mirror the UPDATE on ``case``: the revision is built from what was
    # read before it, and the case is reloaded after.
    changed = await session.execute(update(Case).where(*condition).values(version=seen + 1, stage=after,
                                                                           **(values or {}))
                                    .execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        await session.refresh(case)
        _require_allowed(case, transition, case.stage)
        raise Conflict(f"case {case.reference} was changed by someone else meanwhile (you saw version {seen}, it is "
                       f"now version {case.version}): reload it and try again", field="version")
    recorded = dict(changes or {})
    if after != before:
        recorded["stage"] = [before, after]
    revision = CaseRevision(case_id=case.id, version=seen + 1, kind=transition.kind, reason=reason,
                            changes=json.dumps(recorded, default=str, sort_keys=True), by_id=actor.id)
    session.add(revision)
    await audit.record(session, actor, f"case.{transition.kind}", case_id=case.id,
                       subject=subject or f"case:{case.id}", version=seen + 1, fields=sorted(recorded), **audited)
    events.case_changed(session, case.id, *parts)
    await session.refresh(case)
    return revision


def _require_allowed(case: Case, transition: Transition, stage: str) -> None:
    if stage in transition.allowed_from:
        return
    if stage == CLOSED and case.closed_at is not None:
        raise policy.closed_case(case)
    if stage != CLOSED and transition.allowed_from == {CLOSED}:
        raise Conflict(f"case {case.reference} is open: there is nothing to reopen")
    raise Conflict(f"case {case.reference} is at the stage {stage.replace('_', ' ')}: it cannot be "
                   f"{transition.kind.replace('_', ' ')} from there", field="stage")
