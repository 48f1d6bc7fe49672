"""THE consent gate: the one place that decides what an agency may see of a case's information.

    visible(item, viewer_agency, now) =
        item.owner == viewer_agency
     or some consent covers (item.category, viewer_agency), given, not expired, not withdrawn
     or some approved override covers it, not expired
     or the viewer's agency is on the team of a threat-assessment case with a team basis in force
    and no agency plugin restricts it (deny wins; plugins can never widen)
    and, for an item recorded as research for a conference, its agency has released it:
        its return submitted (a draft is its agency's own), not marked "not shared", and if
        marked "at the meeting", the chair has opened the case in that conference

Every read path (pages, API, exports, the live conference, minutes) calls ``visible_items``;
no other module selects an item's text. Every disclosure to a non-owning agency is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, policy
from coordinator.models import (
    AgendaItem,
    Case,
    CaseAgency,
    Consent,
    ConsentScope,
    Disclosure,
    InformationItem,
    Override,
    OverrideScope,
    ResearchReturn,
    TeamBasis,
    utcnow,
)
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

OWNER = "owner"
TEAM = ""  # joining_grounds' key for a case's team basis: no agency key is empty
NO_BASIS = "withheld: no consent or override covers it"
CLOSED = "withheld: the case is closed, and a closed case's information is shown only to the agency that holds it"
AT_THE_MEETING = "withheld: its agency shares it at the meeting, once the chair opens this case"


@dataclass(frozen=True)
class Decision:
    visible: bool
    basis: str  # "owner", "consent:<id>", "override:<id>", "team:<id>", or why it is withheld

    @property
    def disclosed(self) -> bool:
        """Shown to someone who does not own it: that is what the audit records."""
        return self.visible and self.basis != OWNER

    # Cached: one view shares a decision among all items of the same owner and category.
    @cached_property
    def kind(self) -> str:
        """``owner``, ``consent``, ``override``, ``team`` or ``withheld``."""
        return self.basis.split(":", 1)[0] if self.visible else "withheld"

    @cached_property
    def ref_id(self) -> int | None:
        """The id of the consent, override or team basis the item is shown on, if any."""
        return int(self.basis.split(":", 1)[1]) if self.kind in ("consent", "override", "team") else None

    @cached_property
    def reason(self) -> str:
        """Why a withheld item is withheld, as a sentence for the reader ("" when shown)."""
        if self.visible:
            return ""
        reason = self.basis.removeprefix("withheld: ")
        return reason[:1].upper() + reason[1:]


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
    supersedes_id: int | None = None  # the version this one corrects
    superseded: bool = False  # a newer version corrects this one
    sharing: str = "now"  # research: now, meeting or not_shared (how its agency shares it)
    release: str = "released"  # research: draft, not_shared or meeting while held back from others

    @property
    def withheld(self) -> bool:
        return not self.decision.visible


@dataclass(frozen=True)
class Grants:
    """What consents and overrides grant one viewer agency on one case at one moment:
    category -> the basis that covers it (consent preferred over override)."""

    by_category: dict[str, str]
    withheld: str = NO_BASIS  # why a category without a basis is withheld

    def basis_for(self, category: str) -> str | None:
        return self.by_category.get(category)


def consent_in_force(given_at: dt.datetime, expires_at: dt.datetime | None, withdrawn_at: dt.datetime | None,
                     now: dt.datetime) -> bool:
    """A consent scope grants at ``now``: given, not expired, not withdrawn."""
    return given_at <= now and (expires_at is None or expires_at > now) and (withdrawn_at is None or withdrawn_at > now)


def override_in_force(status: str, decided_at: dt.datetime | None, expires_at: dt.datetime, now: dt.datetime) -> bool:
    """An override grants at ``now`` only once approved, and until it expires."""
    return status == "approved" and decided_at is not None and decided_at <= now and expires_at > now


async def load_grants(session: AsyncSession, case_id: int, viewer_agency: str | None, now: dt.datetime) -> Grants:
    """What the case's consents and overrides grant ``viewer_agency`` at ``now`` (one query:
    it runs on every view)."""
    if viewer_agency is None:
        return Grants({})
    consent_scopes = (
        select(literal("consent").label("kind"), ConsentScope.category, ConsentScope.consent_id.label("ref_id"),
               Consent.given_at.label("from_at"), Consent.expires_at, ConsentScope.withdrawn_at,
               literal("").label("status"))
        .join(Consent, Consent.id == ConsentScope.consent_id)
        .where(Consent.case_id == case_id, ConsentScope.recipient == viewer_agency)
    )
    override_scopes = (
        select(literal("override"), OverrideScope.category, OverrideScope.override_id, Override.decided_at,
               Override.expires_at, null(), Override.status)
        .join(Override, Override.id == OverrideScope.override_id)
        .where(Override.case_id == case_id, OverrideScope.recipient == viewer_agency)
    )
    team_basis = (  # a threat-assessment team's basis in force, if any: its members are decided below
        select(literal("team"), null(), TeamBasis.id, TeamBasis.approved_at, null(), null(), literal(""))
        .where(TeamBasis.case_id == case_id, TeamBasis.removed_at.is_(None))
    )
    rows = (await session.execute(union_all(consent_scopes, override_scopes, team_basis)
                                  .order_by("kind", "ref_id"))).all()
    granted: dict[str, str] = {}
    for kind, category, ref_id, from_at, expires_at, withdrawn_at, status in rows:  # consents first, team last
        if kind == "team":
            return await _with_team_basis(session, case_id, viewer_agency, ref_id, granted)
        if category in granted:
            continue  # the earliest consent wins, and any consent wins over an override: it is the survivor's choice
        if (consent_in_force(from_at, expires_at, withdrawn_at, now) if kind == "consent"
                else override_in_force(status, from_at, expires_at, now)):
            granted[category] = f"{kind}:{ref_id}"
    return Grants(granted)


async def _with_team_basis(session: AsyncSession, case_id: int, viewer_agency: str, basis_id: int,
                           granted: dict[str, str]) -> Grants:
    """A threat-assessment team's basis in force covers every category of the case that consent and
    overrides leave uncovered, for the team's members only (policy decides who they are)."""
    kind = (await session.execute(select(Case.kind).where(Case.id == case_id))).scalar()
    team = (await session.execute(select(CaseAgency.agency).where(CaseAgency.case_id == case_id))).scalars().all()
    if not policy.may_share_within_team(viewer_agency, kind, team):
        return Grants(granted)
    categories = (await session.execute(select(InformationItem.category).where(
        InformationItem.case_id == case_id).distinct())).scalars()
    return Grants({category: f"team:{basis_id}" for category in categories} | granted)


async def joining_grounds(session: AsyncSession, case_ids: Collection[int],
                          now: dt.datetime) -> dict[tuple[int, str], list[str]]:
    """What an agency could join each case on, by (case, agency): each consent of hers and each
    approved override in force that covers the agency for some category ("consent:<id>",
    "override:<id>", consents first), then the case's threat-assessment team basis in force
    ("team:<id>", under the key (case, TEAM)). Policy decides which counts (policy.join_ground)."""
    consents = (await session.execute(
        select(Consent.case_id, ConsentScope.recipient, Consent.id, Consent.given_at, Consent.expires_at,
               ConsentScope.withdrawn_at)
        .join(Consent, Consent.id == ConsentScope.consent_id).where(Consent.case_id.in_(case_ids))
        .order_by(Consent.id))).all()
    overrides = (await session.execute(
        select(Override.case_id, OverrideScope.recipient, Override.id, Override.status, Override.decided_at,
               Override.expires_at)
        .join(Override, Override.id == OverrideScope.override_id).where(Override.case_id.in_(case_ids))
        .order_by(Override.id))).all()
    teams = (await session.execute(select(TeamBasis.case_id, TeamBasis.id).where(
        TeamBasis.case_id.in_(case_ids), TeamBasis.removed_at.is_(None)))).all()
    found: dict[tuple[int, str], list[str]] = {}
    for case_id, agency, ref_id, given_at, expires_at, withdrawn_at in consents:
        if consent_in_force(given_at, expires_at, withdrawn_at, now):
            found.setdefault((case_id, agency), []).append(f"consent:{ref_id}")
    for case_id, agency, ref_id, status, decided_at, expires_at in overrides:
        if override_in_force(status, decided_at, expires_at, now):
            found.setdefault((case_id, agency), []).append(f"override:{ref_id}")
    for case_id, ref_id in teams:
        found[case_id, TEAM] = [f"team:{ref_id}"]
    return {key: list(dict.fromkeys(grounds)) for key, grounds in found.items()}


def grounds_for(grounds: dict[tuple[int, str], list[str]], case_id: int, agency: str) -> list[str]:
    """One agency's grounds on one case, of ``joining_grounds``'s answer: its own and the team's."""
    return [*grounds.get((case_id, agency), []), *grounds.get((case_id, TEAM), [])]


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
        return Decision(False, grants.withheld)
    reasons = restrictions.reasons(category, viewer_agency)
    if reasons:
        return Decision(False, "withheld: " + "; ".join(reasons))
    return Decision(True, basis)


# How far an item's agency has released it to others: an item that is not research is released.
# Drafts and "not shared" items are left out of other agencies' views altogether; "at the meeting"
# items show as placeholders until the chair has opened the case in the return's conference.
RELEASED, DRAFT, NOT_SHARED, MEETING = "released", "draft", "not_shared", "meeting"
HIDDEN = (DRAFT, NOT_SHARED)
_CASE_OPENED = exists().where(AgendaItem.conference_id == ResearchReturn.conference_id,
                              AgendaItem.case_id == InformationItem.case_id, AgendaItem.started_at.is_not(None))
_RELEASE = case(
    (InformationItem.research_return_id.is_(None), literal(RELEASED)),
    (ResearchReturn.submitted_at.is_(None), literal(DRAFT)),
    (InformationItem.sharing == NOT_SHARED, literal(NOT_SHARED)),
    (and_(InformationItem.sharing == MEETING, ~_CASE_OPENED), literal(MEETING)),
    else_=literal(RELEASED))

_METADATA = (InformationItem.id, InformationItem.lineage_id, InformationItem.category, InformationItem.agency,
             InformationItem.nature, InformationItem.sensitivity, InformationItem.recorded_at,
             InformationItem.supersedes_id, InformationItem.superseded, InformationItem.sharing)


def _permitted_text(viewer_agency: str | None, grants: Grants, restrictions: Restrictions,
                    released: ColumnElement[bool] | None):  # noqa: ANN202
    """The text column where the rule lets the viewer see it, NULL elsewhere, so withheld text
    never leaves the database. The same rule as ``decide``, which still checks every row.
    ``released``: the items their agency has released to others (None: all of them)."""
    if viewer_agency is None:
        return null().label("text")
    shared = [c for c in grants.by_category if not restrictions.reasons(c, viewer_agency)]
    permitted = InformationItem.agency == viewer_agency
    if shared:
        in_shared = InformationItem.category.in_(shared)
        permitted = or_(permitted, in_shared if released is None else and_(in_shared, released))
    return case((permitted, InformationItem.text), else_=null()).label("text")


async def _has_research(session: AsyncSession, case_id: int) -> bool:
    """Whether any item of the case was recorded as research: only then does a view pay for
    working out how far each item is released."""
    return (await session.execute(select(InformationItem.id).where(
        InformationItem.case_id == case_id, InformationItem.research_return_id.is_not(None)).limit(1))).first() is not None


def _released(decision: Decision, release: str) -> Decision:
    """The rule's decision for a non-owner, held back while its agency keeps the item for the meeting."""
    if release == MEETING and decision.visible:
        return Decision(False, AT_THE_MEETING)
    return decision


async def visible_items(
    session: AsyncSession, registry: AgencyRegistry, viewer: Actor, case_id: int, *, channel: str,
    item_ids: list[int] | None = None, include_superseded: bool = False, now: dt.datetime | None = None,
) -> list[ItemView]:
    """The case's items as ``viewer``'s agency may see them, in recording order, and the
    disclosures written to the audit log in the caller's transaction (the caller commits).

    ``channel`` names the read path (page, api, export, conference, minutes) for the audit.
    """
    now = now or utcnow()
    closed_at = (await session.execute(select(Case.closed_at).where(Case.id == case_id))).scalar()
    if closed_at is not None and not policy.may_see_closed_case_information(viewer):
        grants = Grants({}, withheld=CLOSED)  # closing stops disclosure; reopening resumes it
    else:
        grants = await load_grants(session, case_id, viewer.agency, now)
    restrictions = Restrictions(registry)
    if await _has_research(session, case_id):
        query = (select(*_METADATA, _RELEASE.label("release"),
                        _permitted_text(viewer.agency, grants, restrictions, _RELEASE == RELEASED))
                 .outerjoin(ResearchReturn, ResearchReturn.id == InformationItem.research_return_id))
        # Drafts and "not shared" research are their agency's own: not even a placeholder elsewhere.
        others_may_know = _RELEASE.not_in(HIDDEN)
        query = query.where(others_may_know if viewer.agency is None
                            else or_(InformationItem.agency == viewer.agency, others_may_know))
    else:
        query = select(*_METADATA, literal(RELEASED).label("release"),
                       _permitted_text(viewer.agency, grants, restrictions, None))
    query = query.where(InformationItem.case_id == case_id).order_by(InformationItem.id)
    if not include_superseded:
        query = query.where(InformationItem.superseded.is_(False))
    if item_ids is not None:
        query = query.where(InformationItem.id.in_(item_ids))
    views = []
    decisions: dict[tuple[str, str], Decision] = {}  # the rule depends on the owner and the category alone
    for (item_id, lineage_id, category, owner, nature, sensitivity, recorded_at, supersedes_id, superseded,
         sharing, release, text) in await _read_items(session, query):
        if (owner, category) not in decisions:
            decisions[owner, category] = decide(owner, category, viewer.agency, grants, restrictions)
        decision = decisions[owner, category]
        if decision.basis != OWNER:
            decision = _released(decision, release)
        views.append(ItemView(
            id=item_id, lineage_id=lineage_id or item_id, category=category, agency=owner, nature=nature,
            sensitivity=sensitivity, recorded_at=recorded_at, decision=decision,
            text=text if decision.visible else None, supersedes_id=supersedes_id, superseded=superseded,
            sharing=sharing, release=release,
        ))
    await _record_disclosures(session, viewer, case_id, channel, [v for v in views if v.decision.disclosed], now)
    return views


async def _read_items(session: AsyncSession, query: Select) -> list[Row]:
    """The one place in the code base that sends a query for item text to the database."""
    return list((await session.execute(query)).all())


def _ids_by_basis(shown: list[ItemView]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = {}
    for view in shown:
        grouped.setdefault(view.decision.basis, []).append(view.id)
    return grouped


async def _record_disclosures(session: AsyncSession, viewer: Actor, case_id: int, channel: str,
                              shown: list[ItemView], now: dt.datetime) -> None:
    """One audit entry for the view, and a Disclosure row per item shown to the non-owning viewer."""
    if not shown or viewer.agency is None:
        return
    entry = await audit.record(session, viewer, "information.disclosed", case_id=case_id, subject=f"case:{case_id}",
                               channel=channel, items=_ids_by_basis(shown))
    # The rows are built by the database from the shown ids: a view shows hundreds of items, and
    # sending every row's values costs more than the rest of the gate. One viewer's basis depends
    # on the category alone, so the basis is looked up by category.
    basis_by_category = {v.category: v.decision.basis for v in shown}
    columns = Disclosure.__table__.c
    await session.execute(insert(Disclosure).from_select(
        ["audit_id", "case_id", "item_id", "viewer_id", "viewer_agency", "basis", "channel", "at"],
        select(literal(entry.id, columns.audit_id.type), literal(case_id, columns.case_id.type), InformationItem.id,
               literal(viewer.id, columns.viewer_id.type), literal(viewer.agency, columns.viewer_agency.type),
               case(basis_by_category, value=InformationItem.category),
               literal(channel, columns.channel.type), literal(now, columns.at.type))
        .where(InformationItem.id.in_([v.id for v in shown]))
    ))


async def next_grant_change(session: AsyncSession, case_id: int, now: dt.datetime) -> dt.datetime | None:
    """When what the case's consents and overrides grant next changes by itself (the earliest
    future expiry), so an open page can be re-rendered at that moment without another change."""
    consent_expiry = select(func.min(Consent.expires_at)).where(Consent.case_id == case_id, Consent.expires_at > now)
    override_expiry = select(func.min(Override.expires_at)).where(
        Override.case_id == case_id, Override.status == "approved", Override.expires_at > now)
    found = [(await session.execute(query)).scalar() for query in (consent_expiry, override_expiry)]
    return min((when for when in found if when is not None), default=None)
