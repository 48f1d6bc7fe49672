"""Who has seen this survivor's information: every disclosure of a case's items, per item, from
the Disclosure rows the consent gate writes with each view. Names, times and bases only: the
report never shows an item's text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases, policy
from coordinator.errors import Forbidden
from coordinator.models import Disclosure, InformationItem, User
from coordinator.policy import Actor


@dataclass(frozen=True)
class Sighting:
    """One view of one item by one person of another agency."""

    at: dt.datetime
    viewer_id: int
    viewer_name: str
    viewer_agency: str
    basis: str  # consent:<id> or override:<id>
    channel: str  # page, api, export, conference, minutes


@dataclass
class ItemDisclosures:
    item_id: int
    lineage_id: int
    category: str
    agency: str
    superseded: bool
    sightings: list[Sighting] = field(default_factory=list)


async def disclosure_report(session: AsyncSession, actor: Actor, case_id: int) -> list[ItemDisclosures]:
    """Per disclosed item, in item order: who of which agency saw it, when, on what basis, by
    which path, oldest first. Items never shown outside their agency are not listed."""
    case = await cases.case_for(session, actor, case_id)
    if not policy.may_see_disclosures(actor, case):
        raise Forbidden("only a supervisor or the survivor's case worker can see who has seen this information")
    return await sightings(session, case.id)


async def sightings(session: AsyncSession, case_id: int) -> list[ItemDisclosures]:
    """The report itself, for a caller that has decided the reader may see it (the disclosure
    page, the consent register)."""
    rows = await session.execute(
        select(Disclosure.item_id, Disclosure.at, Disclosure.viewer_id, Disclosure.viewer_agency, Disclosure.basis,
               Disclosure.channel, User.display_name, InformationItem.lineage_id, InformationItem.category,
               InformationItem.agency, InformationItem.superseded)
        .join(InformationItem, InformationItem.id == Disclosure.item_id)
        .outerjoin(User, User.id == Disclosure.viewer_id)
        .where(Disclosure.case_id == case_id)
        .order_by(Disclosure.item_id, Disclosure.id)
    )
    report: dict[int, ItemDisclosures] = {}
    for row in rows:
        entry = report.setdefault(row.item_id, ItemDisclosures(
            item_id=row.item_id, lineage_id=row.lineage_id or row.item_id, category=row.category,
            agency=row.agency, superseded=row.superseded))
        entry.sightings.append(Sighting(at=row.at, viewer_id=row.viewer_id,
                                        viewer_name=row.display_name or f"user {row.viewer_id}",
                                        viewer_agency=row.viewer_agency, basis=row.basis, channel=row.channel))
    return list(report.values())
