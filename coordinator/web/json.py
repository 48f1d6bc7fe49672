"""The JSON shapes of the API, in one home: the same facts the pages show, never UI fields."""

from __future__ import annotations

import datetime as dt
import json

from coordinator import consents, disclosures, overrides
from coordinator.gate import ItemView
from coordinator.lifecycle import threat_plans
from coordinator.lifecycle.safety_plans import stored_fields
from coordinator.lifecycle.screenings import ScreeningView
from coordinator.lifecycle.strategies import Entry
from coordinator.lifecycle.team_roles import TeamMember
from coordinator.lifecycle.threat_plans import PlanWarning
from coordinator.models import (
    Case,
    CaseRevision,
    Closure,
    Consent,
    Override,
    RaisedEvent,
    RoleAssignment,
    Task,
    TaskSignOff,
)
from coordinator.plugins import AgencyRegistry
from coordinator.tasks import is_overdue


def task_json(task: Task, registry: AgencyRegistry, today: dt.date, *, history: bool = False) -> dict:
    body = {
        "id": task.id, "case_id": task.case_id, "agency": task.agency, "agency_name": registry.name(task.agency),
        "title": task.title, "domain": task.domain, "due_on": task.due_on, "status": task.status,
        "reason": task.reason, "source": task.source, "assignee_id": task.assignee_id, "duty": task.duty,
        "needs": task.needs, "fulfilled_by": task.fulfilled_by,
        "overdue": is_overdue(task, today), "version": task.version, "updated_at": task.updated_at,
    }
    if history:
        body["history"] = [{"at": e.at, "by_id": e.by_id, "status": e.status, "reason": e.reason} for e in task.history]
    return body


def case_json(case: Case, registry: AgencyRegistry) -> dict:
    return {
        "id": case.id, "reference": case.reference, "kind": case.kind, "stage": case.stage,
        "risk_level": case.risk_level, "checklist_score": case.checklist_score,
        "judgement_level": case.judgement_level, "judgement_reasons": case.judgement_reasons,
        "incidents_last_12_months": case.incidents_last_12_months, "last_referral_on": case.last_referral_on,
        "last_incident_on": case.last_incident_on,
        "referral_grounds": [g for g in case.referral_grounds.split(",") if g],
        "lead_agency": case.lead_agency, "referring_agency": case.referring_agency,
        "caseworker_id": case.caseworker_id, "summary": case.summary, "has_children": case.has_children,
        "people": [{"role": p.role, "name": p.name, "born_on": p.born_on, "target_kind": p.target_kind}
                   for p in case.people],
        "concern": case.concern, "reported_by": case.reported_by, "reported_at": case.reported_at,
        "screening_due_at": case.screening_due_at,
        "report_place": case.report_place, "immediate_danger": case.immediate_danger,
        "duty_explained_by": case.duty_explained_by, "duty_explained_on": case.duty_explained_on,
        "monitoring_status": case.monitoring_status,
        "monitoring_review_on": case.monitoring_review_on,
        "key_dates": [{"kind": k.kind, "on": k.on, "note": k.note} for k in case.key_dates],
        "agencies": [{"key": a.agency, "name": registry.name(a.agency), "ground": a.ground} for a in case.agencies],
        "created_at": case.created_at, "closed_at": case.closed_at, "version": case.version,
    }


def item_json(view: ItemView, registry: AgencyRegistry) -> dict:
    """An item as the viewer may see it: a withheld item keeps its category and owner, never its text."""
    category = registry.category(view.category)
    return {
        "id": view.id, "lineage_id": view.lineage_id, "supersedes_id": view.supersedes_id,
        "superseded": view.superseded, "category": view.category,
        "category_label": category.label if category else view.category,
        "agency": view.agency, "agency_name": registry.name(view.agency), "nature": view.nature,
        "sensitivity": view.sensitivity, "recorded_at": view.recorded_at,
        "withheld": view.withheld, "basis": None if view.withheld else view.decision.basis,
        "withheld_reason": view.decision.reason or None, "text": view.text,
        "sharing": view.sharing, "release": view.release,
    }


def consent_json(consent: Consent, now: dt.datetime) -> dict:
    return {
        "id": consent.id, "case_id": consent.case_id, "purpose": consent.purpose, "method": consent.method,
        "given_by": consent.given_by, "given_at": consent.given_at, "expires_at": consent.expires_at,
        "recorded_by_id": consent.recorded_by_id, "recorded_at": consent.recorded_at,
        "scopes": [{"id": s.id, "category": s.category, "recipient": s.recipient,
                    "status": consents.scope_status(consent, s, now), "withdrawn_at": s.withdrawn_at,
                    "withdrawal_id": s.withdrawal_id} for s in consent.scopes],
    }


def override_json(override: Override, now: dt.datetime) -> dict:
    return {
        "id": override.id, "case_id": override.case_id, "legal_basis": override.legal_basis,
        "legal_basis_label": overrides.LEGAL_BASES.get(override.legal_basis, override.legal_basis),
        "justification": override.justification, "status": overrides.override_status(override, now),
        "requested_by_id": override.requested_by_id, "requested_at": override.requested_at,
        "decided_by_id": override.decided_by_id, "decided_at": override.decided_at,
        "decision_note": override.decision_note, "expires_at": override.expires_at,
        "survivor_informed": override.survivor_informed, "survivor_informed_at": override.survivor_informed_at,
        "not_informed_reason": override.not_informed_reason,
        "scopes": [{"category": s.category, "recipient": s.recipient} for s in override.scopes],
    }


def disclosures_json(report: list[disclosures.ItemDisclosures]) -> list[dict]:
    return [{"item_id": e.item_id, "lineage_id": e.lineage_id, "category": e.category, "agency": e.agency,
             "superseded": e.superseded,
             "seen_by": [{"at": s.at, "viewer_id": s.viewer_id, "viewer_name": s.viewer_name,
                          "viewer_agency": s.viewer_agency, "basis": s.basis, "channel": s.channel}
                         for s in e.sightings]}
            for e in report]


def conference_view_json(view, registry: AgencyRegistry) -> dict:  # noqa: ANN001 (a ConferenceView)
    """A conference as one audience sees it: the state (the current case's details only if the
    audience may see it) and the current case's items as the gate allows."""
    return {"conference": view.conference, "case_visible": view.case_visible,
            "items": [item_json(v, registry) for v in view.items or []]}


def safety_plan_json(view, registry: AgencyRegistry) -> dict:  # noqa: ANN001 (a safety_plans.PlanView)
    """A version of the safety plan as the viewer may see it: withheld, it has no sections."""
    return {**item_json(view.item, registry), "review_on": view.review_on,
            "sections": None if view.item.withheld else stored_fields(view.item.text)}


def views_json(view: ItemView, registry: AgencyRegistry) -> dict:
    """A version of her views and wishes as the viewer may see it: withheld, it has no parts."""
    return {**item_json(view, registry), "parts": None if view.withheld else stored_fields(view.text)}


def _note_json(view: ItemView | None, registry: AgencyRegistry) -> dict | None:
    if view is None:
        return None
    return {**item_json(view, registry), "notes": None if view.withheld else stored_fields(view.text)}


def follow_up_json(view, registry: AgencyRegistry) -> dict:  # noqa: ANN001 (a follow_ups.FollowUpView)
    """A follow-up: its dates, kinds and ids as the case's agencies see them; what was said (its
    notes) as the gate allows."""
    row = view.row
    return {
        "id": row.id, "case_id": row.case_id, "agency": row.agency, "agency_name": registry.name(row.agency),
        "person_id": row.person_id, "person_name": view.person_name, "planned_on": row.planned_on,
        "method": row.method, "safe_to_call": row.safe_to_call, "outcome": row.outcome,
        "attempted_on": row.attempted_on, "updated_risk": row.updated_risk, "version": row.version,
        "plan_note": _note_json(view.plan_note, registry), "outcome_note": _note_json(view.outcome_note, registry),
    }


def revision_json(revision: CaseRevision) -> dict:
    return {"version": revision.version, "kind": revision.kind, "reason": revision.reason,
            "changes": json.loads(revision.changes), "by_id": revision.by_id, "at": revision.at}


def event_json(event: RaisedEvent) -> dict:
    return {"id": event.id, "event": event.event, "subject": event.subject, "on": event.occurs_on, "note": event.note,
            "by_id": event.by_id, "raised_at": event.raised_at, "tasks_added": event.tasks_added}


def role_json(role: RoleAssignment, registry: AgencyRegistry) -> dict:
    return {"responsibility": role.responsibility, "agency": role.agency, "agency_name": registry.name(role.agency),
            "person_id": role.person_id, "status": role.status, "version": role.version,
            "assigned_at": role.assigned_at}


def sign_off_json(signed: TaskSignOff) -> dict:
    return {"id": signed.id, "case_id": signed.case_id, "agency": signed.agency, "decision": signed.decision,
            "reason": signed.reason, "tasks": signed.task_titles, "by_id": signed.by_id, "at": signed.at}


def closure_json(closure: Closure) -> dict:
    return {"id": closure.id, "case_id": closure.case_id, "criterion": closure.criterion,
            "closing_on": closure.closing_on, "reasons": closure.reasons,
            "missing_items": json.loads(closure.missing_items), "status": closure.status,
            "requested_by_id": closure.requested_by_id, "requested_at": closure.requested_at,
            "decided_by_id": closure.decided_by_id, "decided_at": closure.decided_at,
            "decision_note": closure.decision_note}


def service_json(service) -> dict:  # noqa: ANN001 (a models.Service)
    return {"id": service.id, "name": service.name, "kind": service.kind, "offers": service.offers,
            "contact": service.contact, "area": service.area, "agency": service.agency, "active": service.active}


def referral_json(referral, registry: AgencyRegistry, service=None) -> dict:  # noqa: ANN001 (models.Referral, Service)
    """A referral as those who see its case see it, with its history and notes."""
    return {"id": referral.id, "case_id": referral.case_id, "to_agency": referral.to_agency,
            "to_agency_name": registry.name(referral.to_agency) if referral.to_agency else None,
            "service": service_json(service) if service is not None else None, "purpose": referral.purpose,
            "consent_id": referral.consent_id, "status": referral.status, "decline_reason": referral.decline_reason,
            "outcome": referral.outcome, "notes": referral.notes, "created_by_id": referral.created_by_id,
            "created_at": referral.created_at, "version": referral.version,
            "history": [{"status": e.status, "by_id": e.by_id, "at": e.at, "note": e.note} for e in referral.history]}


def incoming_referral_json(incoming, registry: AgencyRegistry) -> dict:  # noqa: ANN001 (referrals.IncomingReferral)
    """A referral as the agency it is sent to sees it before it joins the case: never the case's people."""
    return {"id": incoming.id, "case_reference": incoming.case_reference, "purpose": incoming.purpose,
            "from_agency": incoming.from_agency, "from_agency_name": registry.name(incoming.from_agency),
            "sent_at": incoming.sent_at, "status": incoming.status, "version": incoming.version}


def survey_json(given) -> dict | None:  # noqa: ANN001 (a models.SurveyAdministration)
    """That the feedback survey was given on a case: never the answers, nor when (the date would point
    at the month her answers are stored under)."""
    if given is None:
        return None
    return {"case_id": given.case_id, "by_id": given.by_id, "mode": given.mode}


def feedback_report_json(report) -> dict:  # noqa: ANN001 (a feedback.Report)
    return {"period": report.period, "hidden": report.hidden, "withheld": report.withheld,
            "responses": report.responses,
            "questions": [{"question": q, "counts": counts} for q, counts in report.counts or []]}


def entry_json(entry: Entry, registry: AgencyRegistry) -> dict:
    return {"key": entry.key, "domain": entry.domain, "letter": entry.letter, "title": entry.title, "kind": entry.kind,
            "agencies": entry.agencies,
            "details": [{"text": d.text, "agencies": d.agencies} for d in entry.details]}


def warning_json(warning: PlanWarning | None) -> dict | None:
    if warning is None:
        return None
    kept = warning.kept and {"reason": warning.kept.reason, "by_id": warning.kept.by_id, "by": warning.kept_by,
                             "at": warning.kept.at}
    return {"message": warning.message, "separations": warning.separations, "kept": kept or None}


def plan_json(plan: threat_plans.Plan, registry: AgencyRegistry, today: dt.date) -> dict:
    return {"items": [task_json(i.task, registry, today) | {
                "strategy": i.task.strategy, "kind": i.kind, "review_on": i.task.review_on,
                "review_now": threat_plans.review_now(i.task, today)} for i in plan.items],
            "warning": warning_json(plan.warning)}


def contact_json(view: ItemView, registry: AgencyRegistry) -> dict:
    """An entry as the viewer may see it: a withheld one keeps its owner and date recorded, never its fields."""
    return item_json(view, registry) | {"entry": threat_plans.contact_fields(view)}


def screening_json(view: ScreeningView) -> dict:
    return {"version": view.version, "level": view.level, "reasons": view.reasons,
            "participants": view.participants, "by": view.by, "at": view.at, "status": view.status,
            "decided_by": view.decided_by or None, "decision_note": view.decision_note or None}


def team_member_json(member: TeamMember) -> dict:
    return {"id": member.id, "user_id": member.user_id, "name": member.name, "role": member.role,
            "agency": member.agency, "assigned_at": member.assigned_at}
