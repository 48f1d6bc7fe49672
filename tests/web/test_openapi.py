"""The OpenAPI document matches the server: every route is in it (nothing passes the fuzzing
below by hiding), every JSON body carries the limits the server enforces, OPTIONS lists every
method; and generated requests from it, with path ids pinned to real rows, as a coordinator and as
a member, fail none of schemathesis's checks."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import os
import re
import uuid

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from litestar.routes import HTTPRoute
from sqlalchemy import select

from coordinator import accounts
from coordinator.app import create_app
from coordinator.lifecycle import feedback
from coordinator.lifecycle.closure import TASK_DECISIONS
from coordinator.models import (
    ApiToken,
    ConferenceNote,
    Consent,
    InformationItem,
    Passkey,
    PasswordLink,
    Service,
    SignInRequest,
    Task,
    User,
)
from coordinator.settings import SignOnProvider
from coordinator.web.conference import OPERATIONS
from tests.examples import examples
from tests.logins import enrol_for_tests
from tests.web.test_closure import request_closure


@pytest.fixture
def settings(settings):
    """With single sign-on for the police, whose provider is nowhere (its pages say so, or refuse)."""
    return dataclasses.replace(settings, sign_on=(SignOnProvider(
        agency="police", issuer="http://127.0.0.1:9", client_id="coordinator", client_secret="secret"),))


UNDOCUMENTED = re.compile(r"^/(health|ready|metrics)$|^/static/|^/schema")  # the document itself is /schema
EXAMPLES = examples(ci=5, workstation=10)  # per operation and token


async def test_every_route_but_health_static_and_the_socket_is_in_the_schema(app, client_for, people):
    client = await client_for("chair")
    documented = (await client.get("/schema/openapi.json")).json()["paths"]
    missing = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or UNDOCUMENTED.search(route.path):  # the websocket is no HTTPRoute
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in documented.get(route.path_format, {}):
                missing.append(f"{method} {route.path_format}")
    assert not missing
    assert "/health" not in documented and not any(p.startswith("/static") for p in documented)


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _unbounded(document: dict, schema: dict, at: str) -> list[str]:
    """The fields under ``schema`` whose values the document leaves unbounded although the server
    bounds every one: strings without a length (or a choice, or a date's format), numbers without
    a range, lists without a length."""
    schema = _resolve(document, schema)
    if "anyOf" in schema:
        return [found for option in schema["anyOf"] for found in _unbounded(document, option, at)]
    kind = schema.get("type")
    if kind == "object":
        return [found for name, field in schema.get("properties", {}).items()
                for found in _unbounded(document, field, f"{at}.{name}")]
    if kind == "array":
        return ([] if "maxItems" in schema else [at]) + _unbounded(document, schema["items"], f"{at}[]")
    if kind == "string" and not ({"maxLength", "format", "enum"} & schema.keys()):
        return [at]
    if kind == "integer" and not {"minimum", "maximum"} <= schema.keys():
        return [at]
    return []


async def test_every_json_body_is_documented_with_the_limits_the_server_enforces(client_for, people):
    document = (await (await client_for("chair")).get("/schema/openapi.json")).json()
    bodies = {f"{method.upper()} {path}": operation["requestBody"]["content"]["application/json"]["schema"]
              for path, item in document["paths"].items() for method, operation in item.items()
              if "application/json" in operation.get("requestBody", {}).get("content", {})}
    assert len(bodies) > 30
    assert not [found for label, schema in bodies.items() for found in _unbounded(document, schema, label)]
    referral = _resolve(document, bodies["POST /api/cases"])
    assert "kind" in referral["required"] and "summary" not in referral["required"]  # a default: optional
    assert referral["properties"]["incidents_last_12_months"] == {"type": "integer", "minimum": 0,
                                                                 "maximum": 2**31 - 2, "default": 0}
    assert "\\x00" in referral["properties"]["summary"]["pattern"]  # no control characters


async def test_options_lists_every_method_of_the_path(client_for, people):
    chair = await client_for("chair")
    paths = (await chair.get("/schema/openapi.json")).json()["paths"]
    short = {}
    for path, item in paths.items():
        allowed = (await chair.options(re.sub(r"{[^}]+}", "1", path))).headers.get("allow", "")
        documented = {method.upper() for method in item if method in {"get", "post", "put", "patch", "delete"}}
        if missing := documented - set(allowed.split(", ")):
            short[path] = missing
    assert not short


# Schema-valid requests the server still refuses with 400, counted and printed rather than failed
# on: rules on the state of the case or the meeting (a category the agency does not own, a date in
# the future, a case not on the agenda, nothing changed, a password too short for the deployment's
# setting) and rules across fields (a reason when she was not told). Every other check must pass.
REJECTED_VALID = "Schema-valid request rejected"  # the title of positive_data_acceptance's failure


ONLY_THREAT_ASSESSMENT = {"GET /cases/{case_id}/threat-plan"}
# The pinned case was opened here: only a case imported from another MARAC came with a PDF summary.
ONLY_TRANSFERRED_IN = {"GET /cases/{case_id}/transfer-summary.pdf"}
# The pinned login session can be ended once: whichever of the page and the API ends it first, the
# other then finds it gone (404), so one of the two reaching its handler is enough.
ENDS_THE_SESSION = {"POST /account/sessions/{handle}/end", "POST /api/account/sessions/{handle}/end"}


class Tally:
    """What the fuzzing reached: per operation the statuses answered, and every failed check."""

    def __init__(self) -> None:
        self.statuses: dict[str, set[int]] = {}
        self.examples = 0
        self.failures: list[str] = []
        self.rejected_valid: list[str] = []

    def failed(self, label: str, failure: BaseException) -> None:
        found = failure.exceptions if isinstance(failure, BaseExceptionGroup) else [failure]
        for one in found:
            kept = self.rejected_valid if str(one).startswith(REJECTED_VALID) else self.failures
            kept.append(f"{label}: {str(one)[:100]} {getattr(self, 'last', '')}")

    def reached(self) -> int:
        """Operations that answered something other than 404 at least once: their handler ran."""
        return sum(1 for statuses in self.statuses.values() if statuses - {404})

    def server_errors(self) -> int:
        return sum(1 for statuses in self.statuses.values() for status in statuses if status >= 500)


def _examples(operation, token: str, tally: Tally):
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=operation.as_strategy())
    def run(case) -> None:
        tally.examples += 1
        # A client sends a new Idempotency-Key with each request (reusing one is refused, 422).
        headers = {"authorization": f"Bearer {token}", "idempotency-key": uuid.uuid4().hex}
        response = case.call(headers=headers, allow_redirects=False)
        tally.last = f"{case.body!r} {case.query!r} -> {response.status_code} {response.text[:300]}"
        tally.statuses.setdefault(operation.label, set()).add(response.status_code)
        case.validate_response(response, headers=headers)  # every check schemathesis has
    return run


def _fuzz(schema, tokens: dict[str, str]) -> tuple[int, Tally]:
    """Every operation, with each token; the failures found, by operation (no shrinking: the
    first failing example is reported as it was)."""
    operations, tally = 0, Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for who, token in tokens.items():
            try:
                _examples(operation, token, tally)()
            except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 (each is collected, then reported)
                tally.failed(f"{operation.label} as {who}", failure)
    return operations, tally


async def _rows(sessionmaker, scenario, client_for) -> dict[str, list]:
    """Real rows for every kind of id in a path: the scenario's cases, conference, tasks, items and
    consents, and an override, a follow-up, a service, a referral and a closure request made for
    the fuzzing, so that requests reach their handlers instead of answering 404."""
    chair, police = await client_for("chair"), await client_for("pc")
    case = scenario.case_a
    async with sessionmaker() as db:
        service = Service(name="Legal aid clinic", kind="legal advice", offers="Protection orders", active=True)
        db.add(service)
        await db.commit()
        rows = {"case_id": [scenario.case_a, scenario.case_b, scenario.case_c],
                "conference_id": [scenario.conference_id], "service_id": [service.id],
                "operation": sorted(OPERATIONS),  # the live page's changes, by name
                "handle": [(await chair.get("/api/account")).json()["sessions"][0]["handle"]]}  # a login session
        doc = (await db.execute(select(User).where(User.username == "doc"))).scalar_one()
        rows["user_id"] = [doc.id]  # an account the administration routes can name (the callers are no administrators)
        db.add(PasswordLink(user_id=doc.id, token_hash=hashlib.sha256(b"a-set-password-link").hexdigest(),
                            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
        rows["token"] = ["a-set-password-link"]
        chair_user = (await db.execute(select(User).where(User.username == "chair"))).scalar_one()
        await accounts.create_token(db, chair_user)  # one to revoke: never the fuzzing's own tokens
        await db.commit()
        rows["token_id"] = [(await db.execute(select(ApiToken.id))).scalars().one()]
        # A passkey to remove; she holds the tests' known app too, so her later logins still finish.
        passkey = Passkey(user_id=chair_user.id, credential_id="AAEC", public_key=b"\x01", name="Laptop")
        db.add(passkey)
        await enrol_for_tests(db, chair_user)
        await db.commit()
        rows["passkey_id"] = [passkey.id]
        waiting = SignInRequest(agency="police", username="new@example.org", display_name="New")
        db.add(waiting)
        await db.commit()
        rows["request_id"] = [waiting.id]  # someone waiting to be let in (the callers are no administrators)
        rows["provider"] = ["police"]  # the agency with single sign-on
        for name, model in [("task_id", Task), ("item_id", InformationItem), ("consent_id", Consent)]:
            rows[name] = list((await db.execute(select(model.id).where(model.case_id == case).limit(3))).scalars())
    created = {
        "override_id": await police.post(f"/api/cases/{case}/overrides", json={
            "legal_basis": "risk_to_life", "justification": "threats", "categories": ["police.call_outs"],
            "recipients": ["health"], "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()}),
        "follow_up_id": await chair.post(f"/api/cases/{case}/follow-ups", json={
            "agency": "social_work", "planned_on": dt.date.today().isoformat(), "method": "visit",
            "safe_to_call": False}),
        "referral_id": await chair.post(f"/api/cases/{case}/referrals", json={
            "service_id": service.id, "purpose": "a protection order", "method": "verbal", "given_by": "Nora",
            "shares": "her name and phone number"}),
        "closure_id": await request_closure(chair, scenario.case_b),
    }
    for name, answer in created.items():
        assert answer.status_code == 201, (name, answer.text)
        rows[name] = [answer.json()["id"]]
    # An action agreed and a note taken in the (started) conference, for the changes naming them.
    meeting = f"/api/conferences/{scenario.conference_id}"
    for path, body in [("actions", {"case_id": case, "agency": "police", "title": "Check on her", "domain": "victim",
                                    "due_on": dt.date.today().isoformat()}),
                       ("notes", {"case_id": case, "kind": "note", "text": "Discussed"})]:
        answer = await chair.post(f"{meeting}/{path}", json=body)
        assert answer.status_code in (200, 201), (path, answer.text)
    async with sessionmaker() as db:
        for name, model in [("task_id", Task), ("note_id", ConferenceNote)]:
            rows.setdefault(name, []).extend((await db.execute(select(model.id).where(
                model.conference_id == scenario.conference_id))).scalars())
    return rows


def _pin(document: dict, rows: dict[str, list]) -> dict:
    """The document with each id, in a path or a body, drawn from the real rows of its kind."""
    def pinned(values: list) -> dict:
        return {"type": "integer" if isinstance(values[0], int) else "string", "enum": values}

    for item in document["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and (values := rows.get(parameter["name"])):
                    parameter["schema"] = pinned(values)
    forms = [content["schema"] for item in document["paths"].values() for operation in item.values()
             for kind, content in operation.get("requestBody", {}).get("content", {}).items()
             if kind == "application/x-www-form-urlencoded"]
    for schema in [*document["components"]["schemas"].values(), *forms]:
        for name in schema.get("properties", {}).keys() & rows.keys():
            if rows[name]:
                schema["properties"][name] = pinned(rows[name])
    return document


async def test_the_whole_api_fuzzed_from_its_schema(settings, registry, sessionmaker, scenario, client_for):
    rows = await _rows(sessionmaker, scenario, client_for)
    tokens = {}
    async with sessionmaker() as db:
        for who in ("chair", "pc"):
            user = (await db.execute(select(User).where(User.username == who))).scalar_one()
            tokens[who] = await accounts.create_token(db, user)
        await db.commit()
    document = (await (await client_for("chair")).get("/schema/openapi.json")).json()
    app = create_app(settings, registry)
    schema = schemathesis.openapi.from_dict(_pin(document, rows))
    schema.app, schema.location = app, "/schema/openapi.json"
    # The app runs in the fuzzer's own event loop and thread, so this loop stays free meanwhile.
    operations, tally = await asyncio.to_thread(_fuzz, schema, tokens)
    await app.state.engine.dispose()
    print(f"fuzzed {operations} operations with {tally.examples} examples: {tally.reached()} reached their "
          f"handler, {tally.server_errors()} server errors, {len(tally.failures)} failing, "
          f"{len(tally.rejected_valid)} refusing schema-valid input "
          f"({len({label.split(' as ')[0] for label in tally.rejected_valid})} operations)")
    if os.environ.get("COORDINATOR_FUZZ_REPORT"):  # what is left to describe, for whoever takes it on
        print("\n\n".join(tally.rejected_valid))
    assert operations > 40
    # The pinned case is a domestic-abuse case: a threat-assessment case's own section is not one of its sections.
    unreached = sorted(label for label, statuses in tally.statuses.items()
                       if not statuses - {404} and label not in ONLY_THREAT_ASSESSMENT | ONLY_TRANSFERRED_IN | ENDS_THE_SESSION)
    assert any(tally.statuses[label] - {404} for label in ENDS_THE_SESSION)
    assert unreached == []  # the pinned ids lead every operation past "not found"
    assert tally.server_errors() == 0
    assert not tally.failures, "\n\n".join(tally.failures)


async def test_an_empty_api_query_value_is_refused_as_the_document_says(client_for, people):
    chair = await client_for("chair")
    refused = await chair.get("/api/figures?from=2026-01-01&to=")
    assert refused.status_code == 400 and refused.json()["field"] == "to"
    assert (await chair.get("/api/figures?from=2026-01-01")).status_code == 200  # left out: the default
    assert (await chair.get("/figures?to=")).status_code == 200  # a page's GET form: an empty field means "any"
    paths = (await chair.get("/schema/openapi.json")).json()["paths"]
    strings = [option for path, item in paths.items() if path.startswith("/api/") for operation in item.values()
               for parameter in operation.get("parameters", []) if parameter["in"] == "query"
               for option in [parameter["schema"], *parameter["schema"].get("oneOf", [])]
               if option.get("type") == "string"]
    assert strings and all(option.get("minLength", 0) >= 1 for option in strings)


async def test_what_the_installed_agencies_offer_and_what_must_be_written_are_in_the_document(client_for, registry,
                                                                                              scenario):
    chair = await client_for("chair")
    document = (await chair.get("/schema/openapi.json")).json()
    item = _resolve(document, document["paths"]["/api/cases/{case_id}/items"]["post"]["requestBody"]["content"][
        "application/json"]["schema"])
    assert "housing.tenancy" in item["properties"]["category"]["enum"]  # a plugin's own category, from the registry
    task = _resolve(document, document["paths"]["/api/cases/{case_id}/tasks"]["post"]["requestBody"]["content"][
        "application/json"]["schema"])
    assert sorted(task["properties"]["agency"]["enum"]) == sorted(registry.keys)
    role = document["components"]["schemas"]["RoleIn"]["properties"]["responsibility"]
    assert {"lead_agency", "housing"} <= set(role["enum"])
    action = document["components"]["schemas"]["ActionIn"]
    assert "due_on" in action["required"]
    consent = document["components"]["schemas"]["ConsentIn"]
    assert consent["properties"]["categories"]["minItems"] == consent["properties"]["recipients"]["minItems"] == 1
    written = re.compile(item["properties"]["text"]["pattern"])
    assert written.search("Three call-outs") and not written.search("  \n ") and not written.search("a\x00b")

    # The server holds the same: spaces alone are blank, and the refusal says what to write.
    police = await client_for("pc")
    blank = await police.post(f"/api/cases/{scenario.case_a}/items",
                              json={"category": "police.call_outs", "nature": "fact", "text": "  \n "})
    assert blank.status_code == 400 and blank.json()["field"] == "text"
    assert blank.json()["detail"] == "text: write what the agency holds: the text is empty"
    control = await police.post(f"/api/cases/{scenario.case_a}/items",
                                json={"category": "police.call_outs", "nature": "fact", "text": "a\x00b"})
    assert control.status_code == 400 and "control character" in control.json()["detail"]
    page = await police.post(f"/cases/{scenario.case_a}/items",
                             data={"category": "police.call_outs", "nature": "fact", "text": "   "})
    assert page.status_code == 400 and "write what the agency holds" in page.text
    undated = await chair.post(f"/api/conferences/{scenario.conference_id}/actions", json={
        "case_id": scenario.case_a, "agency": "police", "title": "Check on her", "domain": "victim"})
    assert undated.status_code == 400 and undated.json()["field"] == "due_on"
    assert "give the action a due date" in undated.json()["detail"]


async def test_a_page_form_is_documented_with_the_fields_it_is_read_into(client_for, people):
    paths = (await (await client_for("chair")).get("/schema/openapi.json")).json()["paths"]
    form = paths["/cases/{case_id}/items"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
    fields = form["schema"]
    assert {"category", "nature", "text"} <= set(fields["required"]) and "sensitivity" not in fields["required"]
    assert "housing.tenancy" in fields["properties"]["category"]["enum"]
    assert fields["properties"]["sensitivity"] == {"enum": ["high", "normal"]}  # a form leaves a field out: no null
    contact = paths["/cases/{case_id}/contact-log"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"]["schema"]
    assert contact["properties"]["on"] == {"type": "string", "format": "date"}


def _form_schema(paths: dict, path: str) -> dict:
    return paths[path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]


async def test_forms_sent_as_rows_and_the_live_page_changes_are_documented_as_sent(client_for, people):
    paths = (await (await client_for("chair")).get("/schema/openapi.json")).json()["paths"]
    # The survey's answers are one radio group per question (answer_0, answer_1, …), each a choice.
    survey = _form_schema(paths, "/cases/{case_id}/feedback")
    assert set(survey["required"]) == {"consent_read", "mode"} and "answers" not in survey["properties"]
    assert set(survey["patternProperties"]["^answer_[0-9]+$"]["enum"]) == set(feedback.CHOICES)
    # The closure's open tasks are rows keyed by task id; the request itself is three named fields.
    closure = _form_schema(paths, "/cases/{case_id}/closure")
    assert {"criterion", "closing_on", "reasons"} <= set(closure["required"])
    assert set(closure["patternProperties"]["^task_[0-9]+_decision$"]["enum"]) == set(TASK_DECISIONS)
    assert "^task_[0-9]+_task_id$" not in closure["patternProperties"]
    outcome = _form_schema(paths, "/follow-ups/{follow_up_id}/outcome")
    assert {"version", "outcome", "attempted_on"} <= set(outcome["required"])
    assert "^task_title_[0-9]+$" in outcome["patternProperties"]
    # The case's people and key dates are named fields and numbered rows, as the edit form sends them.
    edit = _form_schema(paths, "/cases/{case_id}/edit")
    assert {"version", "reason"} <= set(edit["required"]) and "people" not in edit["properties"]
    assert "survivor_name" in edit["properties"] and "^key_date_on_[0-9]+$" in edit["patternProperties"]
    # Each change of the live page is a path of its own with the fields that change reads.
    for name, op in OPERATIONS.items():
        change = _form_schema(paths, f"/conferences/{{conference_id}}/changes/{name}")
        wanted = {f.name for f in dataclasses.fields(op.data)
                  if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        assert set(change.get("required", [])) == wanted, name
