"""Her views and wishes: what the survivor, who is not in the room, wants the conference to know
and to do, recorded by whoever holds victim contact and shared through the consent gate.

Like the safety plan, it is one information item per case of a core category, versioned (a
correction is a new version, the earlier ones kept as its history), its text the parts as JSON,
the date she was asked among them. A case with no version has a gap the chair sees: not yet asked.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, gate, policy
from coordinator.errors import Conflict, Invalid
from coordinator.gate import ItemView
from coordinator.lifecycle.safety_plans import current_id, labelled, new_version, role_holder, stored_fields
from coordinator.limits import Id, Text
from coordinator.models import Case, InformationItem, RoleAssignment, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

CATEGORY = "case.views_and_wishes"
RESPONSIBILITY = "victim_contact"
MAX_PART = 4_000
PARTS = {
    "asked_on": "Asked on",
    "views": "Her views, in her words",
    "wishes": "What she wants to happen",
    "worries": "What she is afraid of",
}


@dataclass
class ViewsIn:
    """A new version of her views and wishes. ``supersedes_id`` is the version the writer saw (None
    when none was recorded yet): a version recorded meanwhile is refused, never overwritten."""

    asked_on: Annotated[dt.date, Meta(description="enter the date she was asked")]
    views: Text(MAX_PART)
    supersedes_id: Id | None = None
    wishes: Text(MAX_PART) = ""
    worries: Text(MAX_PART) = ""


def parts(text: str | None) -> list[tuple[str, str]]:
    return labelled(text, PARTS, "Her views and wishes")


def split(items: list[ItemView]) -> tuple[list[ItemView], list[ItemView]]:
    """A case's items as the conference and the minutes show them: her views and wishes first,
    apart from the rest of the information."""
    return [i for i in items if i.category == CATEGORY], [i for i in items if i.category != CATEGORY]


async def holder(session: AsyncSession, case_id: int) -> RoleAssignment | None:
    """Who holds victim contact on the case: an agency, and maybe one person of it."""
    return await role_holder(session, case_id, RESPONSIBILITY)


async def record(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                 views_in: ViewsIn) -> InformationItem:
    """A new version of her views and wishes, owned by the agency holding victim contact."""
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    contact = await holder(session, case.id)
    if contact is None:
        raise Conflict(f"nobody holds victim contact on case {case.reference}: assign it in the role map first")
    policy.require_views_recorder(actor, case, contact.agency, contact.person_id, registry.name(contact.agency))
    if views_in.asked_on > utcnow().date():
        raise Invalid("the date she was asked is in the future", field="asked_on")
    if not views_in.views.strip():
        raise Invalid("write her views, in her words", field="views")
    recorded = {"asked_on": views_in.asked_on.isoformat(),
                **{key: getattr(views_in, key).strip() for key in ("views", "wishes", "worries")}}
    item = await new_version(session, registry, actor, case, category=CATEGORY, what="her views and wishes",
                             owner=contact.agency, seen=views_in.supersedes_id,
                             text=json.dumps(recorded, ensure_ascii=False))
    await audit.record(session, actor, "views_and_wishes.recorded", case_id=case.id, subject=f"item:{item.id}",
                       owner=contact.agency, supersedes=item.supersedes_id, asked_on=views_in.asked_on)
    return item


@dataclass(frozen=True)
class ViewsState:
    """Her views as one agency may see them: ``current`` from the gate (withheld or not), None
    while not yet asked; who holds victim contact; whether the viewer may record a new version."""

    current: ItemView | None
    holder: RoleAssignment | None
    can_record: bool

    @property
    def fields(self) -> dict[str, str]:
        """The parts by key, to start the next version from (empty when withheld)."""
        if self.current is None or self.current.withheld:
            return {}
        return stored_fields(self.current.text) or {}


async def current_views(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case: Case, *,
                        channel: str) -> ViewsState:
    """The current version as the viewer's agency may see it; the disclosure is audited in the
    caller's transaction."""
    contact = await holder(session, case.id)
    found = await current_id(session, case.id, CATEGORY)
    views = await gate.visible_items(session, registry, viewer, case.id, channel=channel,
                                     item_ids=[found]) if found else []
    may = policy.may_record_views(viewer, case, contact.agency if contact else None,
                                  contact.person_id if contact else None)
    return ViewsState(current=views[0] if views else None, holder=contact, can_record=may)


async def history(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int, *,
                  channel: str) -> list[ItemView]:
    """Every version, oldest first, as the viewer's agency may see them."""
    case = await cases.case_for(session, viewer, case_id)
    ids = list((await session.execute(
        select(InformationItem.id).where(InformationItem.case_id == case.id, InformationItem.category == CATEGORY)
        .order_by(InformationItem.id))).scalars())
    if not ids:
        return []
    return await gate.visible_items(session, registry, viewer, case.id, channel=channel, item_ids=ids,
                                    include_superseded=True)
