"""Between meetings: the safety plan and follow-up contacts, as pages and their API twins."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from coordinator.models import Case
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor


async def case_context(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case) -> dict:
    """What the case page shows of the safety plan and the follow-ups, through the gate."""
    return {}


ROUTES: list = []
