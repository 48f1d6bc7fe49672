"""The one render pipeline of a conference: state → policy and consent gate per audience → view
→ fragments (or JSON). The live page, its websocket, the JSON API and a 409's current state
all come through here, so what an audience sees is decided once.

An audience is an agency and a conference role class (``policy.Audience``), never a person:
one view, one render, for everyone in it. The gate is still asked once per person shown the
items, so the audit names everyone who saw them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import gate, policy
from coordinator.conference import research
from coordinator.conference.participation import load_conference
from coordinator.conference.research import AgencyReadiness
from coordinator.conference.state import ASPECTS, ActionView, AgendaEntry, ConferenceState, RoleView, load_state
from coordinator.gate import ItemView
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor, Audience

# One partial per aspect, in the order a full page is sent.
PARTIALS = {
    "status": "conferences/_status.html",
    "agenda": "conferences/_agenda.html",
    "presence": "conferences/_presence.html",
    "case": "conferences/_case.html",
    "roles": "conferences/_roles.html",
    "actions": "conferences/_actions.html",
    "new_action": "conferences/_new_action.html",
    "notes": "conferences/_notes.html",
}


@dataclass(frozen=True)
class AgendaRow:
    entry: AgendaEntry
    order_up: list[int] | None  # the agenda order if this item moved up one place
    order_down: list[int] | None
    readiness: list[AgencyReadiness] | None = None  # each agency's research on the case: the chair's only


@dataclass(frozen=True)
class RoleRow:
    role: RoleView
    can_volunteer: bool


@dataclass(frozen=True)
class ActionRow:
    action: ActionView
    can_change: bool  # the audience's own agency's action, or the chair


@dataclass(frozen=True)
class ConferenceView:
    """One conference as one audience may see it: the only thing the templates read."""

    conference: ConferenceState  # the current case's details removed unless ``case_visible``
    audience: Audience
    case_visible: bool  # the current case in full; otherwise only its agenda line
    items: list[ItemView] | None  # None: not loaded here (the page gets them by websocket)
    agenda: list[AgendaRow] | None
    roles: list[RoleRow] | None
    actions: list[ActionRow] | None
    can_chair: bool
    can_note: bool
    removable: frozenset[int]  # the participants this audience may remove from the page
    action_agencies: list[str]  # agencies this audience may add an action for, on the current case

    def presence_groups(self) -> list[tuple[str | None, list]]:
        """The participants by agency, in agency order, people without an agency last (grouped
        here: Jinja's ``groupby`` sorts None beside the agency keys, and that raises)."""
        groups: dict[str | None, list] = {}
        for person in self.conference.participants or ():
            groups.setdefault(person.agency, []).append(person)
        return sorted(groups.items(), key=lambda group: (group[0] is None, group[0] or ""))


def _swapped(ids: list[int], i: int, j: int) -> list[int] | None:
    if not (0 <= i < len(ids) and 0 <= j < len(ids)):
        return None
    order = list(ids)
    order[i], order[j] = order[j], order[i]
    return order


def _agenda_rows(entries: list[AgendaEntry], readiness: dict[int, list[AgencyReadiness]]) -> list[AgendaRow]:
    ids = [e.id for e in entries]
    return [AgendaRow(e, _swapped(ids, i, i - 1), _swapped(ids, i, i + 1), readiness.get(e.case_id))
            for i, e in enumerate(entries)]


async def view_for(session: AsyncSession, registry: AgencyRegistry, state: ConferenceState, audience: Audience,
                   viewers: Sequence[Actor], aspects: Iterable[str]) -> ConferenceView:
    """What ``audience`` may see of ``state``. Items are read through the gate for each of
    ``viewers`` (people of that audience) when the case is shown; with no viewers, not at all."""
    aspects = set(aspects)
    case_visible = (state.current_case_id is not None
                    and policy.may_see_agenda_case(audience, state.current_case_agencies))
    shown = state if case_visible else dataclasses.replace(state, case=None, roles=None, actions=None, notes=None,
                                                           people=None)
    items = None
    if case_visible and "case" in aspects and viewers:
        for viewer in viewers:  # one answer per agency; each person's view is audited
            items = await gate.visible_items(session, registry, viewer, state.current_case_id, channel="conference")
    agencies = state.current_case_agencies if case_visible else []
    readiness = {}
    if state.agenda is not None and "agenda" in aspects and policy.may_see_readiness_in_meeting(audience):
        conference = await load_conference(session, state.id)
        if conference.agenda_circulated_at is not None:  # no research was asked for before
            readiness = {row.case_id: row.agencies for row in await research.readiness_by_case(session, conference)}
    return ConferenceView(
        conference=shown, audience=audience, case_visible=case_visible, items=items,
        agenda=_agenda_rows(state.agenda, readiness) if state.agenda is not None else None,
        roles=[RoleRow(r, policy.may_volunteer(audience, [a for a in r.able if a in agencies])
                       and r.status != "confirmed" and r.agency != audience.agency)
               for r in shown.roles] if shown.roles is not None else None,
        actions=[ActionRow(a, policy.may_act_for(audience, a.agency))
                 for a in shown.actions] if shown.actions is not None else None,
        can_chair=audience.chairs, can_note=audience.takes_notes,
        removable=frozenset(p.participant_id for p in state.participants or ()
                            if policy.may_remove_in_meeting(audience, p)),
        action_agencies=[a for a in agencies if policy.may_act_for(audience, a)],
    )


async def conference_view(session: AsyncSession, registry: AgencyRegistry, conference_id: int, audience: Audience,
                          viewers: Sequence[Actor], aspects: Iterable[str] = ASPECTS) -> ConferenceView:
    """Read the state of ``aspects`` and make the view of one audience."""
    aspects = frozenset(aspects)
    state = await load_state(session, registry, conference_id, aspects)
    return await view_for(session, registry, state, audience, viewers, aspects)


def render_fragment(env: Environment, view: ConferenceView, aspect: str, *, oob: bool = True) -> str:
    """The partial of one aspect for one view."""
    return env.get_template(PARTIALS[aspect]).render(view=view, conference=view.conference, oob=oob)


def in_page_order(aspects: Iterable[str]) -> list[str]:
    wanted = set(aspects)
    return [aspect for aspect in ASPECTS if aspect in wanted]


def render_fragments(env: Environment, view: ConferenceView, aspects: Iterable[str], *, oob: bool = True) -> str:
    """The partials of ``aspects`` for one view, concatenated (for the websocket and for an
    error answer's current state, each marked for an out-of-band swap by its id)."""
    return "".join(render_fragment(env, view, aspect, oob=oob) for aspect in in_page_order(aspects))
