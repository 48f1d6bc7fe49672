"""Turn submitted HTML forms into the same inputs the JSON API takes, naming the field at fault."""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from dataclasses import MISSING, fields
from typing import TypeVar

import msgspec
from litestar.datastructures import FormMultiDict

from coordinator.case_links import DecisionIn
from coordinator.cases import ANY_REPORT_KINDS, KeyDateIn, PersonIn, ReferralIn
from coordinator.equality import QUESTIONS, EqualityIn
from coordinator.errors import Invalid
from coordinator.lifecycle.referral_form import CHECKLIST, ReferralFormIn
from coordinator.limits import MAX_ID, Count, Text, explain, value_at
from coordinator.tasks import TaskIn

Input = TypeVar("Input")
# A page route's ``opt`` key naming the dataclass its form is read into by ``from_form``, so that
# the OpenAPI document describes the form's fields as the server reads them.
FORM = "form"
# A page route's ``opt`` key for the fields of its input that the form sends as rows of numbered or
# keyed names (``answer_0``, ``task_7_decision``) rather than under the field's own name: per field,
# the pattern of those names and the type of one value, so the document describes them as sent.
ROWS = "form_rows"
_AT = re.compile(r" - at `\$\.?(.*)`$")


def checked(data: Input) -> Input:
    """A form's input held to the same constraints the JSON API applies to it (declared on its
    dataclass: lengths, characters, ranges, choices), naming the field at fault."""
    builtins = msgspec.to_builtins(data, builtin_types=(dt.datetime, dt.date))
    try:
        return msgspec.convert(builtins, type(data))
    except msgspec.ValidationError as error:
        message = str(error)
        at = _AT.search(message)
        field = at.group(1) if at else None
        raise Invalid(explain(_AT.sub("", message), type(data), field, value_at(builtins, field)), field=field) from None


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


def people_from_form(form: FormMultiDict) -> list[PersonIn]:
    """The survivor, the subject and the children (one per line), as the referral and edit forms ask."""
    people = [PersonIn("survivor", text(form, "survivor_name"))]
    if text(form, "subject_name"):
        people.append(PersonIn("subject", text(form, "subject_name")))
    return people + [PersonIn("child", line.strip()) for line in text(form, "children").splitlines() if line.strip()]


def key_dates_from_form(form: FormMultiDict) -> list[KeyDateIn]:
    """The rows of key dates with a date filled in (``key_date_kind_<n>``, ``_on_<n>``, ``_note_<n>``)."""
    key_dates = []
    rows = max(KEY_DATE_ROWS, optional_int(form, "key_date_rows") or 0)
    for row in range(min(rows, 20)):
        on = optional_date(form, f"key_date_on_{row}")
        if on is not None:
            key_dates.append(KeyDateIn(kind=text(form, f"key_date_kind_{row}"), on=on, note=text(form, f"key_date_note_{row}")))
    return key_dates


TARGET_ROWS = 3


def _targets(form: FormMultiDict) -> list[PersonIn]:
    """A threat-assessment case's targets: the rows with a name (``target_name_<n>``, ``target_kind_<n>``;
    the edit form says how many rows it has in ``target_rows``)."""
    rows = min(max(TARGET_ROWS, optional_int(form, "target_rows") or 0), 50)
    return [PersonIn("target", text(form, f"target_name_{row}"), target_kind=text(form, f"target_kind_{row}") or None)
            for row in range(rows) if text(form, f"target_name_{row}")]


def threat_people_from_form(form: FormMultiDict) -> list[PersonIn]:
    """A threat-assessment case's people as its edit form gives them: the subject and the targets."""
    subject = [PersonIn("subject", text(form, "subject_name"))] if text(form, "subject_name") else []
    return subject + _targets(form)


def referral_from_form(form: FormMultiDict) -> ReferralIn:
    targets, key_dates = _targets(form), key_dates_from_form(form)
    # The survivor's field may stay empty when the case names its targets instead (a threat assessment).
    people = [p for p in people_from_form(form) if p.role != "survivor" or p.name or not targets] + targets
    return checked(ReferralIn(
        kind=text(form, "kind"), people=people, summary=text(form, "summary"), concern=text(form, "concern"),
        form=None if text(form, "kind") in ANY_REPORT_KINDS else referral_form_from_form(form),
        equality=None if text(form, "kind") in ANY_REPORT_KINDS else equality_from_form(form),
        judgement_level=text(form, "judgement_level") or None, judgement_reasons=text(form, "judgement_reasons") or None,
        incidents_last_12_months=optional_int(form, "incidents_last_12_months") or 0,
        last_referral_on=optional_date(form, "last_referral_on"), last_incident_on=optional_date(form, "last_incident_on"),
        key_dates=key_dates, agencies=[a for a in form.getall("agencies") if a] if "agencies" in form else [],
        lead_agency=text(form, "lead_agency") or None, referring_agency=text(form, "referring_agency") or None,
        reported_by=text(form, "reported_by"), report_place=text(form, "report_place"),
        immediate_danger=text(form, "immediate_danger") == "yes",
        duplicates=duplicates_from_form(form), add_to_case=_added_to(form),
    ))


def referral_form_from_form(form: FormMultiDict) -> ReferralFormIn:
    """The referral form's fields (the checklist's answers are ``checklist_<n>``, from 0); blanks stay
    blank for intake to name them all."""
    return ReferralFormIn(
        aware=text(form, "aware") or None, not_aware_reason=text(form, "not_aware_reason"),
        safe_number=text(form, "safe_number"), safe_times=text(form, "safe_times"),
        message_ok=text(form, "message_ok") or None, safe_word=text(form, "safe_word"), fears=text(form, "fears"),
        language=text(form, "language"), interpreter=text(form, "interpreter") or None,
        access_needs=text(form, "access_needs"),
        checklist=[text(form, f"checklist_{number}") or None for number in range(len(CHECKLIST))],
        concerns=text(form, "concerns"), children_schools=text(form, "children_schools"),
        perpetrator=text(form, "perpetrator"), duty_explained_by=text(form, "duty_explained_by"),
        duty_explained_on=optional_date(form, "duty_explained_on"))


def equality_from_form(form: FormMultiDict) -> EqualityIn | None:
    """Her equality answers, when she was asked (any question answered: then each must be)."""
    if not any(text(form, name) for name in QUESTIONS):
        return None
    return EqualityIn(**{name: text(form, name) for name in QUESTIONS}, ethnicity_detail=text(form, "ethnicity_detail"))
def _case_named(form: FormMultiDict, name: str) -> int:
    case_id = name.removeprefix("duplicate_")
    if not case_id.isdigit() or not 1 <= int(case_id) <= MAX_ID:
        raise Invalid("the form names no such case", field=name)
    return int(case_id)


def _added_to(form: FormMultiDict) -> int | None:
    """The open case the coordinator chose to add the referral to (``duplicate_<case id>`` = add)."""
    chosen = [_case_named(form, name) for name in form if name.startswith("duplicate_") and text(form, name) == "add"]
    if len(chosen) > 1:
        raise Invalid("add the referral to one open case only", field="add_to_case")
    return chosen[0] if chosen else None


def duplicates_from_form(form: FormMultiDict) -> list[DecisionIn]:
    """The coordinator's answers about possible earlier cases: ``duplicate_<case id>`` = same / not_same."""
    decisions = []
    for name in form:
        if name.startswith("duplicate_") and text(form, name) in ("same", "not_same"):
            decisions.append(DecisionIn(case_id=_case_named(form, name), same=text(form, name) == "same"))
    return decisions


def task_from_form(form: FormMultiDict) -> TaskIn:
    return checked(TaskIn(agency=text(form, "agency"), title=text(form, "title"), domain=text(form, "domain"),
                          due_on=optional_date(form, "due_on"), assignee_id=optional_int(form, "assignee_id")))


def _read_field(form: FormMultiDict, name: str, kind: object) -> object:
    """One form field as the type the input dataclass declares."""
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)
    base = next((a for a in typing.get_args(kind) if a is not type(None)), kind) if optional else kind
    if typing.get_origin(base) is list:
        values = [value for value in form.getall(name, []) if value]
        if typing.get_args(base)[0] is not int:
            return values
        try:
            return [int(value) for value in values]
        except ValueError:
            raise Invalid("expected whole numbers", field=name) from None
    if base is int:
        value = optional_int(form, name)
        if value is None and not optional:
            raise Invalid("this is required", field=name)
        return value
    if base is bool:
        return text(form, name) in ("yes", "on", "true", "1")
    if base is dt.date:
        return optional_date(form, name)
    return text(form, name) or (None if optional else "")


def rows_of(kind: type, name: str, *, without: tuple[str, ...] = ()) -> dict[str, object]:
    """The rows a form sends for a list of ``kind`` (for ``ROWS``): per field of ``kind``, the
    pattern of its names (``name`` with ``{field}`` in it) and the type of one value."""
    hints = typing.get_type_hints(kind, include_extras=True)
    return {f"^{name.format(field=f.name)}$": _one_value(hints[f.name]) for f in fields(kind) if f.name not in without}


def _one_value(kind: object) -> object:
    """A field's type as one form value: not null (a form leaves out what it does not send)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def _value_of(kind: type, name: str) -> object:
    return _one_value(typing.get_type_hints(kind, include_extras=True)[name])


# The people and the key dates as the referral and edit forms send them (for ``ROWS``).
PEOPLE_ROWS = {"^survivor_name$": _value_of(PersonIn, "name"), "^subject_name$": _value_of(PersonIn, "name"),
               "^children$": Text(50 * 201), "^target_rows$": Count, "^target_name_[0-9]+$": _value_of(PersonIn, "name"),
               "^target_kind_[0-9]+$": _value_of(PersonIn, "target_kind")}
KEY_DATE_FORM_ROWS = {"^key_date_rows$": Count, "^key_date_kind_[0-9]+$": _value_of(KeyDateIn, "kind"),
                      "^key_date_on_[0-9]+$": dt.date, "^key_date_note_[0-9]+$": _value_of(KeyDateIn, "note")}


def from_form(data_class: type, form: FormMultiDict, **rows: object) -> object:
    """Build a service's input from a submitted form, by the dataclass's own field types. A field
    the form leaves out keeps its default (a checkbox left clear is still "no"); ``rows`` are the
    fields the caller read from the form's rows (see ``ROWS``)."""
    hints = typing.get_type_hints(data_class)
    values = {}
    for f in fields(data_class):
        if f.name in rows:
            values[f.name] = rows[f.name]
        elif f.name in form or hints[f.name] is bool or (f.default is MISSING and f.default_factory is MISSING):
            values[f.name] = _read_field(form, f.name, hints[f.name])
    return checked(data_class(**values))
