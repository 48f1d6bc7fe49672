"""Hostile input on every write route, found in the app's route table (so a route added later
is covered): an id the database cannot hold, a NUL, text longer than its column, a body that is
not JSON. Each answers 4xx with a message, never a 500, and writes nothing. Run on PostgreSQL
too (COORDINATOR_TEST_DATABASE_URL), where each of these would otherwise fail in the driver."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import types
import typing
from typing import Annotated, Literal, Union

import msgspec
import pytest
from sqlalchemy import func, select

from coordinator.models import Base
from coordinator.web.conference import OPERATIONS
from coordinator.web.edge import MAX_BODY_BYTES, MAX_JSON_DEPTH
from coordinator.web.forms import FORM

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Write routes that take no input but the path: they get the id checks only.
NO_INPUT = {"/logout", "/conferences/{conference_id:int}/statement", "/conferences/{conference_id:int}/circulate",
            "/api/conferences/{conference_id:int}/statement", "/api/conferences/{conference_id:int}/agenda/circulate", "/api/session/renew",
            "/api/conferences/{conference_id:int}/participants/{participant_id:int}",  # its id is in the path
            "/account/sessions/end-others", "/api/account/sessions/end-others",
            "/api/account/passkeys/options"}  # a passkey's options: made by the server, nothing sent
TOO_BIG = 2**31  # one more than PostgreSQL's Integer holds


async def row_counts(sessionmaker) -> dict[str, int]:
    async with sessionmaker() as db:
        return {t.name: (await db.execute(select(func.count()).select_from(t))).scalar_one()
                for t in Base.metadata.sorted_tables}


def write_routes(app) -> list[tuple[str, str, object]]:
    routes = [(path, method, handler) for path, methods in app.route_handler_method_map.items()
              for method, handler in methods.items() if method in WRITES and path != "/login"]
    assert len(routes) > 30  # the table was read
    return routes


def url(path: str, **ids: object) -> str:
    """A route's path with its parameters filled: ids as given (else 1), each change by name."""
    return re.sub(r"\{(\w+):(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


def json_input(handler) -> type | None:
    data = handler.parsed_fn_signature.parameters.get("data")
    return data.annotation if data is not None else None


def _meta(kind) -> dict:
    return {k: v for m in getattr(kind, "__metadata__", ()) if isinstance(m, msgspec.Meta)
            for k in ("max_length", "le", "lt") if (v := getattr(m, k)) is not None}


def _bare(kind):
    while typing.get_origin(kind) in (Union, types.UnionType):
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    return kind


def sample(kind):
    """A value of the declared type that passes its checks."""
    kind = _bare(kind)
    if typing.get_origin(kind) is Annotated:
        at_least = max((m.min_length or 0 for m in kind.__metadata__ if isinstance(m, msgspec.Meta)), default=0)
        value = sample(typing.get_args(kind)[0])
        return [sample(typing.get_args(typing.get_args(kind)[0])[0])] * at_least if isinstance(value, list) else value
    if typing.get_origin(kind) is Literal:
        return typing.get_args(kind)[0]
    if typing.get_origin(kind) is list:
        return []
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind, include_extras=True)
        return {f.name: sample(hints[f.name]) for f in dataclasses.fields(kind)}
    return {int: 1, str: "a", bool: False, dt.date: "2026-01-01", dt.datetime: "2026-01-01T00:00:00Z"}[kind]


def attacks(kind, attack: str):
    """(field key, hostile value) for every leaf of the declared type that ``attack`` applies to."""
    kind = _bare(kind)
    limits = _meta(kind)
    base = typing.get_args(kind)[0] if typing.get_origin(kind) is Annotated else kind
    base = _bare(base)
    if typing.get_origin(base) is list:
        for key, value in attacks(typing.get_args(base)[0], attack):
            yield f"[0]{key}", [value]
    elif dataclasses.is_dataclass(base):
        hints = typing.get_type_hints(base, include_extras=True)
        for f in dataclasses.fields(base):
            for key, value in attacks(hints[f.name], attack):
                yield f".{f.name}{key}", {**sample(base), f.name: value}
    elif base is int and attack == "id":
        yield "", TOO_BIG
    elif base is int and attack == "largest" and ("le" in limits or "lt" in limits):
        yield "", limits["le"] if "le" in limits else limits["lt"] - 1
    elif base is str and attack == "nul":
        yield "", "a\x00b"
    elif base is str and attack == "long" and "max_length" in limits:
        yield "", "a" * (limits["max_length"] + 1)


@pytest.fixture
async def chair(client_for, scenario):
    return await client_for("chair")


@pytest.mark.parametrize("attack", ["id", "nul", "long"])
async def test_every_json_write_route_refuses_hostile_fields_naming_them(app, chair, sessionmaker, attack):
    before = await row_counts(sessionmaker)
    tried = 0
    for path, method, handler in write_routes(app):
        data = json_input(handler)
        if data is None:
            continue
        for key, body in attacks(data, attack):
            response = await chair.request(method, url(path), json=body,
                                           headers={"x-csrftoken": chair.cookies.get("csrftoken", "")})
            field = key.lstrip(".")
            assert response.status_code == 400, (path, field, response.text)
            assert response.json()["field"] == field and response.json()["detail"], (path, response.text)
            tried += 1
    assert tried > 20  # the routes were found and their fields attacked
    assert await row_counts(sessionmaker) == before


async def test_every_json_write_route_takes_each_number_at_its_largest_without_a_server_error(app, chair):
    """A number at the very top of what its field allows is refused or taken, never a server error:
    a change names a version whose next one must still fit the column (found on PostgreSQL)."""
    tried = 0
    for path, method, handler in write_routes(app):
        data = json_input(handler)
        for key, body in attacks(data, "largest") if data is not None else []:
            response = await chair.request(method, url(path), json=body,
                                           headers={"x-csrftoken": chair.cookies.get("csrftoken", "")})
            assert response.status_code < 500, (path, key, response.text)
            tried += 1
    assert tried > 20


async def test_every_write_route_answers_404_for_an_id_out_of_range(app, chair, sessionmaker):
    before = await row_counts(sessionmaker)
    for path, method, _ in write_routes(app):
        if "{" not in path:
            continue
        for bad in (TOO_BIG, 0, -1):
            response = await chair.request(method, url(path, **dict.fromkeys(re.findall(r"\{(\w+):int", path), bad),
                                                       operation="note"),
                                           headers={"x-csrftoken": chair.cookies.get("csrftoken", "")})
            assert response.status_code == 404, (path, bad, response.text)
    assert await row_counts(sessionmaker) == before


def form_fields(value: str, number: str) -> dict[str, object]:
    """A form that fills every field any form of the site has: text fields get ``value``, ids
    get ``number``, choices a valid choice."""
    return {
        "title": value, "text": value, "note": value, "reason": value, "summary": value, "purpose": value,
        "given_by": value, "justification": value, "survivor_name": value, "subject_name": value,
        "children": value, "judgement_reasons": value, "key_date_note_0": value, "responsibility": value,
        "kind": "domestic_abuse", "nature": "fact", "method": "written", "category": "police.call_outs",
        "categories": "police.call_outs", "recipients": "social_work", "agency": "police", "agencies": "police",
        "domain": "victim", "legal_basis": "risk_to_life", "decision": "approve", "status": "done",
        "informed": "no", "key_date_kind_0": "hearing", "key_date_on_0": "2027-01-01",
        "scheduled_at": "2027-01-01T10:00", "expires_at": "2027-01-01", "checklist_score": "15",
        "version": number, "chair_id": number, "case_id": number, "task_id": number, "item_id": number,
        "user_id": number, "assignee_id": number, "person_id": number, "scope_ids": number, "case_ids": number,
        "invite": number, "order": number, "email": value,
    }


def _all_blank_allowed(form) -> bool:  # noqa: ANN001
    """A page form whose every field may be left out (and none is a number)."""
    return form is not None and all(
        (f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING)
        and _bare(typing.get_type_hints(form)[f.name]) is not int for f in dataclasses.fields(form))


# With the id attack the text is empty too, so a form without ids is refused as well (it has
# nothing out of range to refuse).
FORM_ATTACKS = {"id": ("", str(TOO_BIG)), "nul": ("a\x00b", "1"), "long": ("a" * 20_001, "1")}


@pytest.mark.parametrize("attack", sorted(FORM_ATTACKS))
async def test_every_form_write_route_refuses_hostile_fields(app, chair, scenario, sessionmaker, attack):
    before = await row_counts(sessionmaker)
    value, number = FORM_ATTACKS[attack]
    for path, method, handler in write_routes(app):
        if json_input(handler) is not None or path in NO_INPUT:
            continue
        if attack == "id" and _all_blank_allowed(handler.opt.get(FORM)):
            continue  # nothing in it may be refused for being blank, and it has no id
        for operation in OPERATIONS if "{operation" in path else [None]:
            # case_b shows the chair only social work's own items: re-showing its page discloses nothing
            target = url(path, case_id=scenario.case_b, conference_id=scenario.conference_id, operation=operation)
            response = await chair.request(method, target, data=form_fields(value, number),
                                           headers={"x-csrftoken": chair.cookies.get("csrftoken", "")})
            assert 400 <= response.status_code < 500 and response.text, (target, response.status_code)
    assert await row_counts(sessionmaker) == before


@pytest.mark.parametrize(("content", "content_type", "status", "says"), [
    (b'{"kind": "domestic_abuse\xff"}', "application/json", 400, "not valid JSON"),  # not UTF-8
    (b"[" * 50_000 + b"]" * 50_000, "application/json", 400, "not valid JSON"),  # past the decoder's recursion
    (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "application/json", 400, "nests deeper"),
    (b'{"kind": "domestic_abuse"}', "text/plain", 415, "JSON"),
    (b'{"kind": "domestic_abuse"}', None, 415, "JSON"),
    (b'{"kind": "' + b"a" * MAX_BODY_BYTES + b'"}', "application/json", 413, ""),
])
async def test_every_json_write_route_refuses_a_body_that_is_not_json(app, chair, sessionmaker, content,
                                                                      content_type, status, says):
    before = await row_counts(sessionmaker)
    for path, method, handler in write_routes(app):
        if json_input(handler) is None:
            continue
        headers = {"x-csrftoken": chair.cookies.get("csrftoken", "")}
        if content_type:
            headers["content-type"] = content_type
        response = await chair.request(method, url(path), content=content, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.json()["detail"] and says in response.json()["detail"], (path, response.text)
    assert await row_counts(sessionmaker) == before


@pytest.mark.parametrize("headers", [
    {"cookie": "session=" + "a" * 20_000},
    {"cookie": "csrftoken=" + "a" * 20_000},
    {"authorization": "Bearer " + "a" * 20_000},
    {"hx-request": "true", "hx-current-url": "http://testserver.local/" + "a" * 20_000},
    {"referer": "http://testserver.local/" + "a" * 20_000},
    {"x-anything": "a" * 50_000},
])
async def test_an_over_long_cookie_or_header_is_not_a_server_error(app, client_for, people, headers):
    client = await client_for()
    for method, path in (("GET", "/"), ("GET", "/api/cases"), ("POST", "/api/cases"), ("POST", "/cases")):
        response = await client.request(method, path, headers=headers)
        assert response.status_code < 500, (method, path, headers.keys(), response.status_code)
