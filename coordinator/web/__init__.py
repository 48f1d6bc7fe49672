"""HTTP and websocket handlers only: parse, call one service, render."""

from __future__ import annotations

from coordinator.cases import CASE_KINDS, KEY_DATE_KINDS, PERSON_ROLES, RISK_LEVELS, STAGES, TARGET_KINDS, ground_label
from coordinator.hookspecs import PRECIPITATING_EVENTS, TASK_DOMAINS
from coordinator.lifecycle import views_and_wishes
from coordinator.lifecycle.case_events import EVENT_LABELS
from coordinator.lifecycle.transitions import OPEN_STAGES
from coordinator.plugins import AgencyRegistry
from coordinator.tasks import CLOSED_STATUSES, STATUSES, is_overdue
from coordinator.web import (
    account,
    admin,
    api,
    auth,
    casework,
    closing,
    conference,
    figures,
    follow_up,
    mandatory_reports,
    navigation,
    pages,
    probes,
    referrals,
    research,
    search,
    sessions,
    sharing,
    sign_on,
    threat,
    transfers,
)
from coordinator.web.live import case_socket, socket
from coordinator.web.sections import workspace


def label(key: str | None) -> str:
    """A stored key as people read it: ``not_applicable`` → ``Not applicable``."""
    return (key or "").replace("_", " ").capitalize()


def dom_id(kind: str, key: object) -> str:
    """The one source of DOM ids, for templates and live updates alike."""
    return f"{kind}-{key}"


def template_globals(registry: AgencyRegistry) -> dict:
    return {
        "registry": registry, "agency_name": registry.name, "label": label, "dom_id": dom_id,
        "is_overdue": is_overdue, "CASE_KINDS": CASE_KINDS, "STAGES": STAGES, "RISK_LEVELS": RISK_LEVELS,
        "PERSON_ROLES": PERSON_ROLES, "KEY_DATE_KINDS": KEY_DATE_KINDS, "TASK_DOMAINS": TASK_DOMAINS,
        "TARGET_KINDS": TARGET_KINDS, "ground_label": ground_label,
        "TASK_STATUSES": STATUSES, "CLOSED_STATUSES": CLOSED_STATUSES, "OPEN_STAGES": OPEN_STAGES, "precipitating": PRECIPITATING_EVENTS,
        "event_labels": EVENT_LABELS, "responsibility_labels": {r.key: r.label for r in registry.responsibilities},
        "section_url": workspace.section_url, "app_areas": navigation.areas, "item_sections": follow_up.item_sections, "CORE_CATEGORIES": follow_up.CORE_CATEGORIES,
        "split_her_views": views_and_wishes.split,
    }


ROUTES = [
    probes.liveness, probes.readiness, auth.login_page, auth.login, auth.code_page, auth.enter_code, auth.logout,
    auth.passkey_login_options, auth.passkey_login, *sign_on.ROUTES,
    pages.dashboard, pages.new_case_page, pages.create_case_page, pages.add_agency_page,
    pages.assign_task_page, pages.change_task_page,
    api.me, api.list_agencies, api.dashboard_json, api.list_cases, api.create_case, api.get_case, api.add_agency,
    api.list_case_tasks, api.assign_task, api.get_task, api.change_task,
    *sharing.PAGES, *sharing.API, *follow_up.ROUTES, *casework.PAGES, *casework.API,
    *closing.PAGES, *closing.API, *referrals.PAGES, *referrals.API,
    *conference.ROUTES, *sessions.ROUTES, socket.conference_live, case_socket.case_live, *threat.PAGES, *threat.API,
    *figures.ROUTES, *workspace.PAGES, *navigation.ROUTES, *research.PAGES, *research.API, *account.ROUTES, *admin.ROUTES,
    *search.ROUTES, *mandatory_reports.ROUTES, *transfers.PAGES, *transfers.API,
]
