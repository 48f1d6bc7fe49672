"""Turn submitted HTML forms into the same inputs the JSON API takes, naming the field at fault."""

from __future__ import annotations

import datetime as dt

from litestar.datastructures import FormMultiDict

from coordinator.cases import KeyDateIn, PersonIn, ReferralIn
from coordinator.errors import Invalid
from coordinator.tasks import TaskIn


def text(form: FormMultiDict, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional_int(form: FormMultiDict, name: str) -> int | None:
    raw = text(form, name)
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise Invalid("enter a whole number", field=name) from None


def optional_date(form: FormMultiDict, name: str) -> dt.date | None:
    raw = text(form, name)
    if raw == "":
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Invalid("enter a date as YYYY-MM-DD", field=name) from None


KEY_DATE_ROWS = 3


def referral_from_form(form: FormMultiDict) -> ReferralIn:
    people = [PersonIn("survivor", text(form, "survivor_name"))]
    if text(form, "subject_name"):
        people.append(PersonIn("subject", text(form, "subject_name")))
    people += [PersonIn("child", line.strip()) for line in text(form, "children").splitlines() if line.strip()]
    key_dates = []
    for row in range(KEY_DATE_ROWS):
        on = optional_date(form, f"key_date_on_{row}")
        if on is not None:
            key_dates.append(KeyDateIn(kind=text(form, f"key_date_kind_{row}"), on=on, note=text(form, f"key_date_note_{row}")))
    return ReferralIn(
        kind=text(form, "kind"), people=people, summary=text(form, "summary"),
        checklist_score=optional_int(form, "checklist_score"),
        judgement_level=text(form, "judgement_level") or None, judgement_reasons=text(form, "judgement_reasons") or None,
        incidents_last_12_months=optional_int(form, "incidents_last_12_months") or 0,
        last_referral_on=optional_date(form, "last_referral_on"), last_incident_on=optional_date(form, "last_incident_on"),
        key_dates=key_dates, agencies=[a for a in form.getall("agencies") if a] if "agencies" in form else [],
        lead_agency=text(form, "lead_agency") or None,
    )


def task_from_form(form: FormMultiDict) -> TaskIn:
    return TaskIn(agency=text(form, "agency"), title=text(form, "title"), domain=text(form, "domain"),
                  due_on=optional_date(form, "due_on"), assignee_id=optional_int(form, "assignee_id"))
