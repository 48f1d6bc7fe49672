"""Every hook an agency plugin may implement.

Hooks prefixed ``agency_`` let an agency declare what it is and contributes; hooks prefixed
``case_`` let it react to what happens on a case (one hook per event, each raised once). Hooks are called with keyword arguments only.
Implementations must not give their parameters default values (pluggy does not pass them).

Declarations are small frozen dataclasses defined here, validated and owned by the core.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pluggy

hookspec = pluggy.HookspecMarker("coordinator")

TASK_DOMAINS_DOMESTIC = ("victim", "children", "perpetrator")
TASK_DOMAINS_THREAT = ("subject", "target", "environment", "precipitating_events")
TASK_DOMAINS = TASK_DOMAINS_DOMESTIC + TASK_DOMAINS_THREAT

# The threat-assessment exhibit's precipitating events (001, "Monitoring for the Impact of
# Precipitating Events"), word for word.
PRECIPITATING_EVENTS = {
    "loss": "Loss impacting the subject",
    "injustice": "Injustice",
    "order_implemented": "Implementation of administrative notices/court orders",
    "order_violated": "Violation of administrative notices/court orders",
    "anniversary": "Anniversary events",
    "contagion": "Contagion effect of other high-profile or locally significant acts of violence",
}


@dataclass(frozen=True)
class AgencyIdentity:
    """``key`` must equal the plugin's entry point name (one identifier everywhere)."""

    key: str
    name: str


@dataclass(frozen=True)
class DueOffset:
    """When a listed task falls due: ``within_hours_of_referral(24)`` (the day the hours end, counted
    from the referral), or ``before_the_meeting()`` (the day of the next conference with the case on
    its agenda; undated until one is scheduled, then dated when it is)."""

    anchor: str  # "referral" or "meeting"
    hours: int = 0

    @classmethod
    def within_hours_of_referral(cls, hours: int) -> DueOffset:
        return cls("referral", hours)

    @classmethod
    def before_the_meeting(cls) -> DueOffset:
        return cls("meeting")

    def due_on(self, referred_at: dt.datetime, meeting_on: dt.date | None) -> dt.date | None:
        if self.anchor == "referral":
            return (referred_at + dt.timedelta(hours=self.hours)).date()
        return meeting_on


@dataclass(frozen=True)
class TaskTemplate:
    """A task an agency takes on for a case. ``standing`` duties hold for the life of the case.

    ``duty`` names a shared duty (declared by ``agency_shared_duties``): several agencies list it,
    the core creates it once per case and gives it to one holder, and moves it when the role map
    changes; the other agencies see it as held by that agency. ``due`` gives it a due date
    (a ``DueOffset``), so it shows as due and overdue in the work lists and the figures.
    ``needs`` (one of ``TASK_NEEDS``) makes it a task done through a referral of hers or a consent
    of hers: it cannot be set done until one exists, and links to the one that fulfils it."""

    title: str
    domain: str
    standing: bool = False
    duty: str | None = None
    due: DueOffset | None = None
    needs: str | None = None


TASK_NEEDS = ("referral", "consent")


@dataclass(frozen=True)
class SharedDuty:
    """A duty several agencies carry "if it does not belong to another agency".

    The holder is the agency on the case that holds ``responsibility`` in the role map; while
    nobody does, the agency that declares it with ``fallback=True`` (if on the case), else the
    first agency on the case to list it."""

    key: str
    responsibility: str
    fallback: bool = False


@dataclass(frozen=True)
class ServiceEntry:
    """A service the agency offers survivors, for the service directory (referrals go to it)."""

    name: str
    kind: str  # e.g. shelter, counselling, legal advice, housing
    offers: str = ""
    contact: str = ""
    area: str = ""


STRATEGY_DOMAINS = {"subject": "S", "target": "T", "environment": "E", "precipitating_events": "P"}
STRATEGY_KINDS = ("separation", "containment", "support", "other")


@dataclass(frozen=True)
class Strategy:
    """A threat-assessment case-management strategy an agency can deliver.

    ``key`` identifies the strategy across agencies (several may deliver the same one; the
    catalogue shows it once with every agency that offers it). ``domain`` is one of
    STRATEGY_DOMAINS; ``kind`` one of STRATEGY_KINDS (the separation-without-containment warning
    reads it); ``details`` are its sub-strategies or purposes, word for word."""

    key: str
    domain: str
    title: str
    kind: str = "other"
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class InformationCategory:
    """A kind of information the agency holds. ``key`` is prefixed with the agency key
    (``<agency>.<name>``); ``sensitivity`` is ``normal`` or ``high``."""

    key: str
    label: str
    sensitivity: str = "normal"


@dataclass(frozen=True)
class Responsibility:
    """A responsibility in the role map that the agency can take (e.g. ``safety_planning``).
    Several agencies may declare the same key; the first label seen is shown.

    ``by_default``: the agency takes the responsibility when it joins a case where nobody holds it
    (the survivor's advocate holds victim contact unless the role map says otherwise); the role
    map can give it to another agency afterwards."""

    key: str
    label: str
    by_default: bool = False


@dataclass(frozen=True)
class CaseFacts:
    """What a plugin may know of a case when deciding its tasks: no names, no item text."""

    case_id: int
    kind: str
    risk_level: str
    has_children: bool
    categories_recorded: frozenset[str] = field(default_factory=frozenset)
    key_dates: tuple[tuple[str, dt.date], ...] = ()


@hookspec
def agency_identity() -> AgencyIdentity:
    """Who the agency is. Required, exactly one per plugin.

    Returns an AgencyIdentity whose key equals the plugin's entry point name.
    """


@hookspec
def agency_task_list(case: CaseFacts) -> list[TaskTemplate]:
    """The tasks and standing duties the agency holds on ``case`` as it now stands.

    Called on this agency's plugin only, when the agency joins the case and again on every change
    to the case's facts (people, key dates, risk, information recorded): the list must follow from
    the facts alone. May depend on the case (children in the household, categories of information
    recorded, key dates, the case kind). Returns a list, possibly empty. A task that appears is added
    once (a task is known by its shared duty, else by its title); one that no longer appears is
    marked "not applicable (case changed)" while still open, and opened again if it returns.
    """


@hookspec
def agency_information_categories() -> list[InformationCategory]:
    """The categories of information the agency holds. Called once per plugin at start-up;
    every key must start with ``<agency key>.``. Returns a list.

    Each agency owns its own categories (no combining): its members record items only in them,
    and an item's sensitivity may raise the category's, never lower it."""


@hookspec
def agency_responsibilities() -> list[Responsibility]:
    """The role-map responsibilities the agency can take. Called once per plugin at start-up.

    Returns a list. The role map offers the union over all agencies; several may declare the
    same key (the first label seen is shown), and a role goes only to an agency that declares it."""


@hookspec
def agency_restrict_disclosure(category: str, viewer_agency: str) -> str | None:
    """Deny disclosure of one of *this agency's own* categories to ``viewer_agency``.

    Called on every plugin; a plugin should answer only for its own categories. Return None
    to let the consent gate decide, or a reason to withhold. Any reason withholds (deny wins);
    no answer can make visible what the gate withholds. The answer must depend only on the
    arguments: the gate may reuse it within one view. The reason is shown to the reader in the
    withheld item's place, so write it as a sentence for them (it never reveals the text).
    A plugin that raises withholds the item too, and the failure is logged naming it.
    """


# --- Case event hooks -------------------------------------------------------------------------
# One hook per event, each raised once per case and date (``coordinator.lifecycle.case_events``). Every one
# is called on the plugin of each agency on the case, one at a time, with the case's facts
# (``case``, no names, no text) and the event's own arguments. It returns follow-up tasks for that
# agency itself (added to the case at once), or None. Answers are not combined: each agency's
# tasks are its own. A plugin that raises or returns anything else is skipped, logged and
# recorded in the audit (``plugin.failed``); it never blocks the change or the monitor run that
# raised the event, nor the other agencies' reactions.


@hookspec
def case_risk_raised(case: CaseFacts, previous_level: str) -> list[TaskTemplate] | None:
    """The case's risk level rose (from ``previous_level`` to ``case.risk_level``) at a reassessment.

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_threat_level_raised(case: CaseFacts, previous_level: str, level: str) -> list[TaskTemplate] | None:
    """A threat-assessment team re-classified the case above its previous classification (``previous_level``
    to ``level``, both of the setting COORDINATOR_THREAT_LEVELS, lowest first).

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_key_date_near(case: CaseFacts, kind: str, on: dt.date, days_before: int) -> list[TaskTemplate] | None:
    """A release from custody or a hearing (``kind``) is ``days_before`` days away (the monitor's
    COORDINATOR_MONITOR_NEAR_DAYS window), raised once per key date.

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_anniversary(case: CaseFacts, kind: str, on: dt.date, years: int) -> list[TaskTemplate] | None:
    """A key date recurs today: the anniversary (``years`` since ``on``) of a relationship's start
    or end, an order served, a birthday.

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_order_violated(case: CaseFacts, on: dt.date) -> list[TaskTemplate] | None:
    """Someone on the case recorded that an order or notice was violated.

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_precipitating_event(case: CaseFacts, kind: str, on: dt.date) -> list[TaskTemplate] | None:
    """Someone on the case recorded a precipitating event (``kind`` is one of PRECIPITATING_EVENTS:
    loss, injustice, order_implemented, anniversary, contagion; an order violated has its own hook).

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_follow_up_due(case: CaseFacts, agency: str, planned_on: dt.date) -> list[TaskTemplate] | None:
    """A planned follow-up contact by ``agency`` is due today.

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_follow_up_missed(case: CaseFacts, agency: str, planned_on: dt.date) -> list[TaskTemplate] | None:
    """A planned follow-up contact by ``agency`` passed with no outcome recorded.

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_task_overdue(case: CaseFacts, agency: str, title: str, due_on: dt.date) -> list[TaskTemplate] | None:
    """A task of ``agency`` passed its due date while still to do.

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_safety_plan_review_due(case: CaseFacts, review_on: dt.date) -> list[TaskTemplate] | None:
    """The safety plan's review-by date passed with no newer version.

    A reaction hook: see "Case event hooks" above."""


@hookspec
def case_monitoring_review_due(case: CaseFacts, review_on: dt.date) -> list[TaskTemplate] | None:
    """A threat-assessment case in long-term monitoring reached its review date (it comes back to
    the agenda). A reaction hook: see "Case event hooks" above."""


@hookspec
def case_screening_overdue(case: CaseFacts, reported_at: dt.datetime, due_at: dt.datetime) -> list[TaskTemplate] | None:
    """A threat-assessment report made at ``reported_at`` was not screened by ``due_at``, the time the team
    sets (COORDINATOR_THREAT_SCREENING_DUE). A reaction hook: see "Case event hooks" above."""


@hookspec
def case_information_recorded(case: CaseFacts, category: str) -> list[TaskTemplate] | None:
    """An agency recorded an item in ``category`` (no text is passed).

    A reaction hook: see "Case event hooks" above."""


@hookspec
def agency_shared_duties() -> list[SharedDuty]:
    """The shared duties the agency's task list names (``TaskTemplate.duty``). Called once per
    plugin at start-up; returns a list. Declarations of one key by several agencies are combined:
    the responsibility must agree, and at most one agency declares itself the fallback."""


@hookspec
def agency_services() -> list[ServiceEntry]:
    """Entries the agency contributes to the service directory. Called once per plugin at start-up;
    returns a list. They are listed beside the administrators' entries, marked with the agency."""


@hookspec
def agency_strategies() -> list[Strategy]:
    """The threat-assessment strategies the agency can deliver. Called once per plugin at
    start-up; returns a list. The strategy catalogue is the union over the installed agencies
    (the core names no strategy of its own); one key declared by several agencies must agree on
    domain, title and kind."""


@hookspec
def agency_routes() -> list:
    """Extra Litestar route handlers; their paths must start with ``/<agency key>/``.
    Called once per plugin at start-up. Returns a list, possibly empty; every agency's routes are
    added to the app's, behind the same login. A path outside the prefix stops start-up."""


@hookspec
def agency_template_dir() -> str | None:
    """A folder of templates served under the agency's prefix (``<agency key>/…``), or None.

    One folder per agency, never combined: a template in it is found only by its prefixed name,
    so no agency can replace a core page or another agency's template."""
