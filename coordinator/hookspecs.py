"""Every hook an agency plugin may implement.

Hooks prefixed ``agency_`` let an agency declare what it is and contributes; hooks prefixed
``case_`` let it react to what happens on a case. Hooks are called with keyword arguments only.
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


@dataclass(frozen=True)
class AgencyIdentity:
    """``key`` must equal the plugin's entry point name (one identifier everywhere)."""

    key: str
    name: str


@dataclass(frozen=True)
class TaskTemplate:
    """A task an agency takes on for a case. ``standing`` duties hold for the life of the case."""

    title: str
    domain: str
    standing: bool = False


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
    Several agencies may declare the same key; the first label seen is shown."""

    key: str
    label: str


@dataclass(frozen=True)
class CaseFacts:
    """What a plugin may know of a case when deciding its tasks: no names, no item text."""

    case_id: int
    kind: str
    risk_level: str
    has_children: bool
    categories_recorded: frozenset[str] = field(default_factory=frozenset)
    key_dates: tuple[tuple[str, dt.date], ...] = ()


@dataclass(frozen=True)
class CaseEvent:
    """Something that happened on a case. ``name`` is one of CASE_EVENTS."""

    name: str
    case: CaseFacts
    detail: str = ""


CASE_EVENTS = ("risk_raised", "order_violated", "release_date_near", "task_overdue", "information_recorded")


@hookspec
def agency_identity() -> AgencyIdentity:
    """Who the agency is. Required, exactly one per plugin.

    Returns an AgencyIdentity whose key equals the plugin's entry point name.
    """


@hookspec
def agency_task_list(case: CaseFacts) -> list[TaskTemplate]:
    """The tasks and standing duties the agency takes on when it is added to ``case``.

    Called on this agency's plugin only. May depend on the case (children in the household,
    categories of information recorded, the case kind). Returns a list, possibly empty.
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


@hookspec
def case_event(event: CaseEvent) -> list[TaskTemplate] | None:
    """React to an event on a case this agency is part of (called on that agency's plugin only).

    Return follow-up tasks for the agency itself (added to the case at once), or None. Answers
    are not combined: each agency's tasks are its own. A plugin that raises or returns anything
    else is skipped, logged and recorded in the audit (``plugin.failed``); it never blocks the
    change that raised the event, nor the other agencies' reactions.
    """


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
