"""THE consent gate: the one place that decides what an agency may see of a case's information.

    visible(item, viewer_agency, now) =
        item.owner == viewer_agency
     or some consent covers (item.category, viewer_agency), given, not expired, not withdrawn
     or some approved override covers it, not expired
    and no agency plugin restricts it (deny wins; plugins can never widen)

Every read path (pages, API, exports, the live conference, minutes) calls ``visible_items``;
no other module selects an item's text. Every disclosure to a non-owning agency is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit
from coordinator.audit import Actor
from coordinator.models import (
    Consent,
    ConsentScope,
    Disclosure,
    InformationItem,
    Override,
    OverrideScope,
    utcnow,
)
from coordinator.plugins import AgencyRegistry

OWNER = "owner"
NO_BASIS = "withheld: no consent or override covers it"


@dataclass(frozen=True)
class Decision:
    visible: bool
    basis: str  # "owner", "consent:<id>", "override:<id>", or why it is withheld

    @property
    def disclosed(self) -> bool:
        """Shown to someone who does not own it: that is what the audit records."""
        return self.visible and self.basis != OWNER


@dataclass(frozen=True)
class ItemView:
    """One item as one agency may see it. ``text`` is None when withheld: a placeholder names
    the category and the owning agency so the reader knows whom to ask."""

    id: int
    lineage_id: int
    category: str
    agency: str
    nature: str
    sensitivity: str
    recorded_at: dt.datetime
    decision: Decision
    text: str | None

    @property
    def withheld(self) -> bool:
        return not self.decision.visible


@dataclass(frozen=True)
class Grants:
    """What consents and overrides grant one viewer agency on one case at one moment:
    category -> the basis that covers it (consent preferred over override)."""

    by_category: dict[str, str]

    def basis_for(self, category: str) -> str | None:
        return self.by_category.get(category)


async def load_grants(session: AsyncSession, case_id: int, viewer_agency: str | None, now: dt.datetime) -> Grants:
    if viewer_agency is None:
        return Grants({})
    consents = await session.execute(
        select(ConsentScope.category, ConsentScope.consent_id)
        .join(Consent, Consent.id == ConsentScope.consent_id)
        .where(
            Consent.case_id == case_id, ConsentScope.recipient == viewer_agency, Consent.given_at <= now,
            or_(Consent.expires_at.is_(None), Consent.expires_at > now),
            or_(ConsentScope.withdrawn_at.is_(None), ConsentScope.withdrawn_at > now),
        ).order_by(ConsentScope.consent_id)
    )
    overrides = await session.execute(
        select(OverrideScope.category, OverrideScope.override_id)
        .join(Override, Override.id == OverrideScope.override_id)
        .where(
            Override.case_id == case_id, OverrideScope.recipient == viewer_agency, Override.status == "approved",
            Override.decided_at <= now, Override.expires_at > now,
        ).order_by(OverrideScope.override_id)
    )
    granted: dict[str, str] = {}
    for category, override_id in overrides:
        granted.setdefault(category, f"override:{override_id}")
    for category, consent_id in consents:  # consent wins over an override for the same category
        if not granted.get(category, "").startswith("consent:"):
            granted[category] = f"consent:{consent_id}"
    return Grants(granted)


class Restrictions:
    """Plugin restrictions, asked once per (category, viewer) within one view."""

    def __init__(self, registry: AgencyRegistry) -> None:
        self._registry = registry
        self._cache: dict[tuple[str, str], list[str]] = {}

    def reasons(self, category: str, viewer_agency: str) -> list[str]:
        key = (category, viewer_agency)
        if key not in self._cache:
            self._cache[key] = self._registry.restrictions(category, viewer_agency)
        return self._cache[key]


def decide(owner: str, category: str, viewer_agency: str | None, grants: Grants, restrictions: Restrictions) -> Decision:
    """The rule itself, for one item."""
    if viewer_agency is not None and owner == viewer_agency:
        return Decision(True, OWNER)
    basis = grants.basis_for(category)
    if basis is None or viewer_agency is None:
        return Decision(False, NO_BASIS)
    reasons = restrictions.reasons(category, viewer_agency)
    if reasons:
        return Decision(False, "withheld: " + "; ".join(reasons))
    return Decision(True, basis)


_METADATA = (InformationItem.id, InformationItem.lineage_id, InformationItem.category, InformationItem.agency,
             InformationItem.nature, InformationItem.sensitivity, InformationItem.recorded_at)


async def visible_items(
    session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int, *, channel: str,
    item_ids: list[int] | None = None, include_superseded: bool = False, now: dt.datetime | None = None,
) -> list[ItemView]:
    """The case's items as ``viewer``'s agency may see them, in recording order, and the
    disclosures written to the audit log in the caller's transaction (the caller commits).

    ``channel`` names the read path (page, api, export, conference, minutes) for the audit.
    """
    now = now or utcnow()
    query = select(*_METADATA).where(InformationItem.case_id == case_id).order_by(InformationItem.id)
    if not include_superseded:
        query = query.where(InformationItem.superseded.is_(False))
    if item_ids is not None:
        query = query.where(InformationItem.id.in_(item_ids))
    rows = (await session.execute(query)).all()
    grants = await load_grants(session, case_id, viewer.agency, now)
    restrictions = Restrictions(registry)
    decisions = {row.id: decide(row.agency, row.category, viewer.agency, grants, restrictions) for row in rows}

    visible_ids = [item_id for item_id, decision in decisions.items() if decision.visible]
    texts: dict[int, str] = {}
    if visible_ids:
        texts = dict((await session.execute(
            select(InformationItem.id, InformationItem.text).where(InformationItem.id.in_(visible_ids))
        )).tuples().all())
    views = [ItemView(id=row.id, lineage_id=row.lineage_id or row.id, category=row.category, agency=row.agency,
                      nature=row.nature, sensitivity=row.sensitivity, recorded_at=row.recorded_at,
                      decision=decisions[row.id], text=texts.get(row.id)) for row in rows]
    await _record_disclosures(session, viewer, case_id, channel, [v for v in views if v.decision.disclosed], now)
    return views


async def _record_disclosures(session: AsyncSession, viewer: Actor, case_id: int, channel: str,
                              shown: list[ItemView], now: dt.datetime) -> None:
    if not shown or viewer.agency is None:
        return
    entry = await audit.record(session, viewer, "information.disclosed", case_id=case_id, subject=f"case:{case_id}",
                               channel=channel, items=[[v.id, v.decision.basis] for v in shown])
    await session.execute(insert(Disclosure), [
        {"audit_id": entry.id, "case_id": case_id, "item_id": v.id, "viewer_id": viewer.id,
         "viewer_agency": viewer.agency, "basis": v.decision.basis, "channel": channel, "at": now}
        for v in shown
    ])
