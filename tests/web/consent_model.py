"""The reference model of "who sees what" that the consent property test checks every read path
against: small enough to read at a glance, independent of the code it checks.

    an agency sees an item's text exactly when it owns it, or a consent in force covers
    (category, agency), or an approved unexpired override does; and no plugin restriction
    denies it. Nothing of a case (summary, people, notes, actions, items) reaches anyone whose
    agency is not on it, other than its agenda line (reference, risk), except those who
    coordinate (and the conference's chair). A conference shows nothing to the uninvited, to
    anyone who has not accepted its confidentiality statement, or to a logged-out client.

Every string the test writes into the application is a unique marker (``marker``), so a
substring search of a response body is decisive.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

AGENCIES = ["police", "social_work", "health", "housing"]
CATEGORIES = ["police.call_outs", "police.intelligence", "health.injuries", "social_work.housing", "housing.tenancy"]
# The police plugin's own restriction: part of the rule, since deny wins.
RESTRICTED = {("police.intelligence", agency) for agency in AGENCIES if agency != "police"}
MEMBER_OF = {"police": "pc", "social_work": "sw", "health": "doc", "housing": "hou"}


def marker(kind: str) -> str:
    """A string nobody else writes: found in a response body only if that body carries it."""
    return f"{kind}-{uuid.uuid4().hex[:14]}"


def owner_of(category: str) -> str:
    return category.split(".", 1)[0]


@dataclass(frozen=True)
class Viewer:
    """Someone reading: a user (or a logged-out client), and their place in the conference."""

    name: str
    agency: str | None
    coordinates: bool = False
    invited_as: str | None = None  # "chair", "representative", or None: not invited
    accepted: bool = False  # accepted the conference's confidentiality statement

    @property
    def logged_in(self) -> bool:
        return self.agency is not None

    @property
    def admitted(self) -> bool:
        return self.invited_as is not None and self.accepted

    @property
    def chairs(self) -> bool:
        """Seen as the chair's audience: in the meeting as chair, or reading minutes as a
        coordinator who was not in it."""
        return self.invited_as == "chair" or (self.invited_as is None and self.coordinates)


VIEWERS = {
    "pc": Viewer("pc", "police", invited_as="representative", accepted=True),
    "sw": Viewer("sw", "social_work", invited_as="representative", accepted=True),
    "doc": Viewer("doc", "health", invited_as="representative", accepted=True),
    "hou": Viewer("hou", "housing", invited_as="representative", accepted=True),
    "late": Viewer("late", "police", invited_as="representative", accepted=False),  # never accepts
    "outsider": Viewer("outsider", "health"),  # not invited
    "chair": Viewer("chair", "social_work", coordinates=True, invited_as="chair", accepted=True),
    "supervisor": Viewer("supervisor", "social_work", coordinates=True),  # coordinates, not invited
    "anon": Viewer("anon", None),  # logged out
}


@dataclass
class Item:
    category: str
    owner: str
    text: str
    current: bool = True


@dataclass
class Grant:
    """A consent scope or an override scope, as the model sees it."""

    basis: str
    category: str
    recipient: str
    scope_id: int | None = None
    in_force: bool = True


@dataclass
class CaseModel:
    id: int
    reference: str
    agencies: set[str]
    summary: str = ""
    agenda_item_id: int = 0
    details: set[str] = field(default_factory=set)  # summary, people, notes, actions: membership-gated
    items: dict[int, Item] = field(default_factory=dict)
    consents: list[list[Grant]] = field(default_factory=list)
    overrides: list[list[Grant]] = field(default_factory=list)

    def bases(self, item: Item, agency: str | None) -> set[str]:
        """Every basis on which ``agency`` may see ``item``; empty when it is withheld."""
        if agency is None:
            return set()
        if item.owner == agency:
            return {"owner"}
        if (item.category, agency) in RESTRICTED:
            return set()

        def covering(grants: list[list[Grant]]) -> set[str]:
            return {g.basis for scopes in grants for g in scopes
                    if g.in_force and (g.category, g.recipient) == (item.category, agency)}

        return covering(self.consents) or covering(self.overrides)  # consent is preferred when both cover

    def joinable_by(self, agency: str) -> bool:
        """An agency joins the case on a consent or an override in force naming it, for any category."""
        return any(g.in_force and g.recipient == agency for scopes in [*self.consents, *self.overrides] for g in scopes)

    @property
    def current(self) -> dict[int, Item]:
        return {i: item for i, item in self.items.items() if item.current}

    def visible_texts(self, agency: str | None, item_ids) -> set[str]:
        return {self.items[i].text for i in item_ids if self.bases(self.items[i], agency)}

    def disclosed_to(self, agency: str | None, item_ids) -> list[int]:
        """The items of ``item_ids`` a view discloses to ``agency`` (shown, and not its own)."""
        return [i for i in item_ids if self.bases(self.items[i], agency) - {"owner"}]

    def markers(self) -> set[str]:
        return self.details | {item.text for item in self.items.values()}


@dataclass
class Model:
    """One example's world: the case its history is about (``case``), a second case on the same
    agenda (``other``), and the conference."""

    case: CaseModel
    other: CaseModel
    conference_id: int = 0
    status: str = "scheduled"
    current: int | None = None  # the case under discussion
    discussed: list[int] = field(default_factory=list)  # cases that have been under discussion
    minutes_items: dict[int, list[int]] = field(default_factory=dict)  # per case, the items as they stood at the end
    ghosts: set[str] = field(default_factory=set)  # markers sent in refused changes: stored nowhere
    disclosed: Counter = field(default_factory=Counter)  # (case id, item id, agency, channel) -> views
    unshown: Counter = field(default_factory=Counter)  # the same, for answers that ask the gate but show nothing

    @property
    def cases(self) -> dict[int, CaseModel]:
        return {self.case.id: self.case, self.other.id: self.other}

    def everything(self) -> set[str]:
        return self.case.markers() | self.other.markers() | self.ghosts

    # --- the rule, per read path -------------------------------------------------------------

    def sees_case(self, viewer: Viewer, case: CaseModel) -> bool:
        """Case pages, items API, exports: its agencies and those who coordinate."""
        return viewer.logged_in and (viewer.coordinates or viewer.agency in case.agencies)

    def case_status(self, viewer: Viewer) -> int:
        return 401 if not viewer.logged_in else 200 if self.sees_case(viewer, self.case) else 404

    def conference_status(self, viewer: Viewer) -> int:
        if not viewer.logged_in:
            return 401
        if viewer.invited_as is None:
            return 404
        return 200 if viewer.accepted else 403

    def conference_case(self, viewer: Viewer) -> CaseModel | None:
        """The case under discussion, if the viewer's audience sees it in full."""
        if self.status != "live" or self.current is None or not viewer.admitted:
            return None
        case = self.cases[self.current]
        return case if viewer.invited_as == "chair" or viewer.agency in case.agencies else None

    def minutes_status(self, viewer: Viewer) -> int:
        if not viewer.logged_in:
            return 401
        if not (viewer.coordinates or viewer.admitted):
            return 404 if viewer.invited_as is None else 403
        return 200 if self.status == "ended" else 409

    def minutes_member(self, viewer: Viewer, case: CaseModel) -> bool:
        return viewer.chairs or viewer.agency in case.agencies

    # --- what a body may carry ---------------------------------------------------------------

    def allowed_on_case_paths(self, viewer: Viewer) -> set[str]:
        if not self.sees_case(viewer, self.case):
            return set()
        return self.case.details | self.case.visible_texts(viewer.agency, self.case.current)

    def allowed_in_conference(self, viewer: Viewer) -> set[str]:
        case = self.conference_case(viewer)
        if case is None:
            return set()
        return case.details | case.visible_texts(viewer.agency, case.current)

    def allowed_in_minutes(self, viewer: Viewer) -> set[str]:
        if self.minutes_status(viewer) != 200:
            return set()
        allowed: set[str] = set()
        for case_id in self.discussed:
            case = self.cases[case_id]
            if self.minutes_member(viewer, case):
                allowed |= case.details | case.visible_texts(viewer.agency, self.minutes_items[case_id])
        return allowed

    def disclose(self, case: CaseModel, viewer: Viewer, item_ids, channel: str, *,
                 unshown: bool = False) -> None:
        counter = self.unshown if unshown else self.disclosed
        for item_id in case.disclosed_to(viewer.agency, item_ids):
            counter[(case.id, item_id, viewer.agency, channel)] += 1
