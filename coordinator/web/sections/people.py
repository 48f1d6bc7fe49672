"""Names of the people a section mentions (authors of revisions, events, referral steps)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator.models import User


async def names(db: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict((await db.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))).all())
