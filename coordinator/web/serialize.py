"""The JSON shapes of the API: the same facts the pages show."""

from __future__ import annotations

import datetime as dt

from coordinator.models import Case, Task
from coordinator.plugins import AgencyRegistry
from coordinator.tasks import is_overdue


def task_json(task: Task, registry: AgencyRegistry, today: dt.date, *, history: bool = False) -> dict:
    body = {
        "id": task.id, "case_id": task.case_id, "agency": task.agency, "agency_name": registry.name(task.agency),
        "title": task.title, "domain": task.domain, "due_on": task.due_on, "status": task.status,
        "reason": task.reason, "source": task.source, "assignee_id": task.assignee_id,
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
        "lead_agency": case.lead_agency, "summary": case.summary, "has_children": case.has_children,
        "people": [{"role": p.role, "name": p.name, "born_on": p.born_on} for p in case.people],
        "key_dates": [{"kind": k.kind, "on": k.on, "note": k.note} for k in case.key_dates],
        "agencies": [{"key": a.agency, "name": registry.name(a.agency)} for a in case.agencies],
        "created_at": case.created_at, "closed_at": case.closed_at, "version": case.version,
    }
