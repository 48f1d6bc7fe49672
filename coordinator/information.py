"""Information items: what each agency records on a case.

Items are never edited in place: a correction is a new version in the same lineage that
supersedes the old one, which stays as history. This module writes an item's text but never
reads it back: reading text is the consent gate's alone (coordinator.gate).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, gate, policy, tasks
from coordinator.errors import Conflict, Forbidden, Invalid, NotFound
from coordinator.gate import ItemView
from coordinator.lifecycle import case_events
from coordinator.limits import Category, OneOf, Written
from coordinator.models import InformationItem, ResearchReturn
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

NATURES = ("fact", "opinion")
SENSITIVITIES = ("normal", "high")
MAX_TEXT = 20_000


EMPTY_ITEM = "write what the agency holds: the text is empty"


@dataclass
class ItemIn:
    """A new item. ``sensitivity`` defaults to the category's and may raise it, never lower it."""

    category: Category
    nature: OneOf(NATURES, "say whether it is a fact or a professional opinion")
    text: Written(MAX_TEXT, EMPTY_ITEM)
    sensitivity: OneOf(SENSITIVITIES) | None = None


@dataclass
class CorrectionIn:
    """A corrected version of an item: new text; nature and sensitivity stay unless given."""

    text: Written(MAX_TEXT, EMPTY_ITEM)
    nature: OneOf(NATURES, "say whether it is a fact or a professional opinion") | None = None
    sensitivity: OneOf(SENSITIVITIES) | None = None


def _checked_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid(EMPTY_ITEM, field="text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"the text is longer than {MAX_TEXT:,} characters", field="text")
    return text


def _checked_nature(nature: str) -> str:
    if nature not in NATURES:
        raise Invalid("say whether it is a fact or a professional opinion", field="nature")
    return nature


def _checked_sensitivity(registry: AgencyRegistry, category: str, sensitivity: str | None) -> str:
    declared = registry.category(category)
    floor = declared.sensitivity if declared else "normal"
    if sensitivity is None:
        return floor
    if sensitivity not in SENSITIVITIES:
        raise Invalid(f"sensitivity must be one of {', '.join(SENSITIVITIES)}", field="sensitivity")
    if SENSITIVITIES.index(sensitivity) < SENSITIVITIES.index(floor):
        raise Invalid(f"{category} is {floor} sensitivity: an item may raise that, never lower it", field="sensitivity")
    return sensitivity


async def record_item(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                      item_in: ItemIn, *, research: ResearchReturn | None = None, sharing: str = "now",
                      not_shared_reason: str | None = None) -> InformationItem:
    """Record an item of the actor's agency on a case, in one of that agency's categories; the
    agencies on the case are told (``information_recorded``) and may add tasks. An item of a
    ``research`` return is shared as ``sharing`` says once the return is submitted (the gate decides)."""
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    policy.require_on_case(actor, cases.agencies_of(case), case.reference, "record information on it")
    declared = registry.category(item_in.category)
    if declared is None:
        raise Invalid(f"no information category {item_in.category!r} is declared by an installed agency",
                      field="category")
    if not item_in.category.startswith(f"{actor.agency}."):
        raise Invalid(f"{registry.name(actor.agency)} records only its own categories, not {item_in.category}",
                      field="category")
    item = InformationItem(
        case_id=case.id, agency=actor.agency, category=item_in.category, nature=_checked_nature(item_in.nature),
        sensitivity=_checked_sensitivity(registry, item_in.category, item_in.sensitivity),
        text=_checked_text(item_in.text), recorded_by_id=actor.id,
        research_return_id=research.id if research else None, sharing=sharing, not_shared_reason=not_shared_reason,
    )
    session.add(item)
    await session.flush()
    item.lineage_id = item.id
    # The audit names the item, never its text: the log is read outside the gate.
    await audit.record(session, actor, "information.recorded", case_id=case.id, subject=f"item:{item.id}",
                       category=item.category, nature=item.nature, sensitivity=item.sensitivity)
    events.case_changed(session, case.id, "items")
    await case_events.raise_event(session, registry, actor, case, "information_recorded", subject=f"item:{item.id}",
                                  occurs_on=item.recorded_at.date(), category=item.category)
    await tasks.follow_case(session, registry, actor, case.id)
    return item


async def _current_version(session: AsyncSession, case_id: int, item_id: int):  # noqa: ANN202
    row = (await session.execute(
        select(InformationItem.id, InformationItem.lineage_id, InformationItem.agency, InformationItem.category,
               InformationItem.nature, InformationItem.sensitivity, InformationItem.superseded,
               InformationItem.research_return_id, InformationItem.sharing, InformationItem.not_shared_reason)
        .where(InformationItem.id == item_id, InformationItem.case_id == case_id)
    )).one_or_none()
    if row is None:
        raise NotFound(f"no item {item_id} on case {case_id}")
    return row


async def correct_item(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int, item_id: int,
                       correction: CorrectionIn) -> InformationItem:
    """Correct an item of the actor's agency: a new version in the same lineage supersedes it.
    Only the newest version can be corrected, so two people correcting at once cannot both win."""
    case = await cases.case_for(session, actor, case_id)
    cases.ensure_open(case)
    old = await _current_version(session, case.id, item_id)
    if old.agency != actor.agency:
        raise Forbidden(f"only {registry.name(old.agency)} corrects its own items")
    if old.superseded:
        raise Conflict(f"item {item_id} has been corrected already: correct its newest version", field="item_id")
    text = _checked_text(correction.text)
    nature = _checked_nature(correction.nature or old.nature)
    sensitivity = _checked_sensitivity(registry, old.category, correction.sensitivity or old.sensitivity)
    marked = await session.execute(
        update(InformationItem).where(InformationItem.id == old.id, InformationItem.superseded.is_(False))
        .values(superseded=True)
    )
    if marked.rowcount != 1:
        raise Conflict(f"item {item_id} was corrected by someone else meanwhile: reload and try again", field="item_id")
    item = InformationItem(
        case_id=case.id, lineage_id=old.lineage_id or old.id, supersedes_id=old.id, agency=old.agency,
        category=old.category, nature=nature, sensitivity=sensitivity, text=text, recorded_by_id=actor.id,
        # A correction is shared as the version it corrects was (a held item stays held).
        research_return_id=old.research_return_id, sharing=old.sharing, not_shared_reason=old.not_shared_reason,
    )
    session.add(item)
    await session.flush()
    await audit.record(session, actor, "information.corrected", case_id=case.id, subject=f"item:{item.id}",
                       supersedes=old.id, lineage=item.lineage_id, nature=nature, sensitivity=sensitivity)
    events.case_changed(session, case.id, "items")
    return item


async def item_history(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int, item_id: int,
                       *, channel: str) -> list[ItemView]:
    """Every version of the item's lineage, oldest first, as the viewer's agency may see them."""
    case = await cases.case_for(session, viewer, case_id)
    item = await _current_version(session, case.id, item_id)
    lineage = item.lineage_id or item.id
    version_ids = list((await session.execute(
        select(InformationItem.id).where(InformationItem.case_id == case.id, InformationItem.lineage_id == lineage)
    )).scalars())
    return await gate.visible_items(session, registry, viewer, case.id, channel=channel, item_ids=version_ids,
                                       include_superseded=True)


async def case_items(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int,
                     *, channel: str) -> list[ItemView]:
    """The case's current items as the viewer's agency may see them (the viewer must see the case)."""
    case = await cases.case_for(session, viewer, case_id)
    return await gate.visible_items(session, registry, viewer, case.id, channel=channel)
