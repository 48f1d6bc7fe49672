"""Closing a case (GBV step 6) and reopening it: the task and file review, a supervisor other than
the requester, a closed case read-only on every write path, disclosure stopped, its consent
records moved to the register, and a new incident counted as a repeat."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from coordinator.models import AgendaItem, AuditEntry, RoleAssignment
from coordinator.web.forms import FORM
from tests.sharing_steps import grant_consent, record_item, refer_her
from tests.web.test_hostile_input import form_fields, json_input, sample, url

TODAY = dt.date.today()
# Writes a closed case still takes (DECISIONS: reopening, the survey, withdrawing consent, the register).
STILL_ALLOWED = {"/api/cases/{case_id:int}/reopen", "/cases/{case_id:int}/reopen",
                 "/api/cases/{case_id:int}/consents/{consent_id:int}/withdrawals",
                 "/cases/{case_id:int}/consents/{consent_id:int}/withdrawals",
                 "/api/cases/{case_id:int}/closures/{closure_id:int}/decision",
                 "/cases/{case_id:int}/closures/{closure_id:int}/decision",
                 "/api/cases/{case_id:int}/feedback", "/cases/{case_id:int}/feedback",
                 # Whether two cases concern the same person is a fact about her, closed case or not.
                 "/api/cases/{case_id:int}/links"}
CASE_PARAMETERS = ("{case_id", "{task_id", "{follow_up_id")
# A page form's JSON twin where the paths differ by more than the /api prefix: its input is the form's.
TWINS = {"/tasks/{task_id:int}/status": ("/api/tasks/{task_id:int}", "PATCH"),
         "/cases/{case_id:int}/edit": ("/api/cases/{case_id:int}", "PATCH"),
         "/cases/{case_id:int}/safety-plan": ("/api/cases/{case_id:int}/safety-plan", "PUT")}


def as_form(body: dict) -> dict:
    """A JSON sample as a browser's form sends it (days, not times; yes or no)."""
    def field(value: object) -> str:
        return ("yes" if value else "no") if isinstance(value, bool) else str(value).removesuffix("T00:00:00Z")
    return {k: [field(x) for x in v] if isinstance(v, list) else field(v) for k, v in body.items()
            if not isinstance(v, dict) and not (isinstance(v, list) and any(isinstance(x, dict) for x in v))}


def declared_input(app, path: str, method: str):
    """The input a route takes: its own JSON body, the dataclass a page form is read into, or else
    the page form's API twin's."""
    own = app.route_handler_method_map.get(path, {}).get(method)
    if own is not None and (form := own.opt.get(FORM)):
        return form
    twin_path, twin_method = TWINS.get(path, (path if path.startswith("/api/") else f"/api{path}", method))
    handler = app.route_handler_method_map.get(twin_path, {}).get(twin_method)
    return json_input(handler) if handler is not None else None


async def open_tasks(client, case_id: int) -> list[dict]:
    return [t for t in (await client.get(f"/api/cases/{case_id}/tasks")).json()
            if t["status"] not in ("done", "not_applicable") and t["source"] != "standing"]


async def request_closure(client, case_id: int, **fields):
    reviews = [{"task_id": t["id"], "decision": "not_applicable", "reason": "survivor moved away"}
               for t in await open_tasks(client, case_id)]
    return await client.post(f"/api/cases/{case_id}/closure", json={
        "criterion": "relocated", "closing_on": TODAY.isoformat(), "reasons": "moved to another city",
        "tasks": reviews, **fields})


async def close(chair, supervisor, case_id: int) -> dict:
    requested = await request_closure(chair, case_id)
    assert requested.status_code == 201, requested.text
    decided = await supervisor.post(f"/api/cases/{case_id}/closures/{requested.json()['id']}/decision",
                                    json={"approve": True})
    assert decided.status_code == 201, decided.text
    return decided.json()


async def test_a_closure_is_refused_while_a_task_is_open_and_lists_what_the_file_lacks(client_for, case):
    chair = await client_for("chair")
    bare = await chair.post(f"/api/cases/{case['id']}/closure", json={
        "criterion": "needs_met", "closing_on": TODAY.isoformat(), "reasons": "safe now"})
    assert bare.status_code == 409 and bare.json()["field"] == "tasks" and "still open" in bare.json()["detail"]
    [first, *_] = await open_tasks(chair, case["id"])
    unexplained = await request_closure(chair, case["id"], tasks=[
        {"task_id": t["id"], "decision": "not_applicable"} for t in await open_tasks(chair, case["id"])])
    assert unexplained.status_code == 400 and unexplained.json()["field"] == "tasks"
    assert [t["id"] for t in await open_tasks(chair, case["id"])][0] == first["id"]  # nothing half-written
    requested = await request_closure(chair, case["id"])
    assert requested.status_code == 201, requested.text
    assert "no consent of the survivor is recorded" in requested.json()["missing_items"]
    assert await open_tasks(chair, case["id"]) == []
    again = await request_closure(chair, case["id"])
    assert again.status_code == 409  # one request awaits its decision


async def test_not_reached_is_computed_from_the_follow_ups_never_typed(client_for, case):
    chair = await client_for("chair")
    refused = await request_closure(chair, case["id"], criterion="not_reached")
    assert refused.status_code == 400 and refused.json()["field"] == "criterion"


async def test_only_a_supervisor_other_than_the_requester_decides(client_for, people, case, make_user):
    chair, supervisor, social = await client_for("chair"), await client_for("supervisor"), await client_for("sw")
    await make_user("boss", "police", "supervisor")
    boss = await client_for("boss")
    requested = await request_closure(boss, case["id"])
    assert requested.status_code == 201, requested.text
    assert case["reference"] in (await supervisor.get("/")).text.split("Closures awaiting approval")[1]
    decision = f"/api/cases/{case['id']}/closures/{requested.json()['id']}/decision"
    own = await boss.post(decision, json={"approve": True})
    assert own.status_code == 403 and "other than the person who requested it" in own.json()["detail"]
    member = await social.post(decision, json={"approve": True})
    assert member.status_code == 403
    refused = await supervisor.post(decision, json={"approve": False})
    assert refused.status_code == 400 and refused.json()["field"] == "note"
    refused = await supervisor.post(decision, json={"approve": False, "note": "safety plan first"})
    assert refused.status_code == 201 and refused.json()["status"] == "refused"
    assert (await chair.get(f"/api/cases/{case['id']}")).json()["closed_at"] is None


async def test_closing_ends_roles_and_leaves_scheduled_agendas(client_for, people, case, sessionmaker):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    scheduled = await chair.post("/api/conferences", json={
        "title": "MARAC", "scheduled_at": "2030-01-07T10:00:00Z", "chair_id": people["chair"].id,
        "case_ids": [case["id"]]})
    assert scheduled.status_code == 201, scheduled.text
    await close(chair, supervisor, case["id"])
    closed = (await chair.get(f"/api/cases/{case['id']}")).json()
    assert closed["stage"] == "closed" and closed["closed_at"].startswith(TODAY.isoformat())
    async with sessionmaker() as session:
        assert (await session.execute(select(AgendaItem).where(AgendaItem.case_id == case["id"]))).first() is None
        assert (await session.execute(select(RoleAssignment).where(
            RoleAssignment.case_id == case["id"], RoleAssignment.ended_at.is_(None)))).first() is None
    police = await client_for("pc")
    assert "Visit" not in (await police.get("/")).text  # out of the work lists


@pytest.fixture
async def closed_case(client_for, people, case):
    """The shared case with a consent, an item, a follow-up, then closed."""
    chair, supervisor, police = await client_for("chair"), await client_for("supervisor"), await client_for("pc")
    await record_item(police, case["id"], "police.call_outs", "Two call-outs in May")
    consent = await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])
    override = await police.post(f"/api/cases/{case['id']}/overrides", json={
        "legal_basis": "risk_to_life", "justification": "threats", "categories": ["police.call_outs"],
        "recipients": ["social_work"], "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()})
    assert override.status_code == 201, override.text
    planned = await chair.post(f"/api/cases/{case['id']}/follow-ups", json={
        "agency": "social_work", "planned_on": TODAY.isoformat(), "method": "visit", "safe_to_call": False})
    assert planned.status_code == 201, planned.text
    await close(chair, supervisor, case["id"])
    return {**case, "consent": consent, "override": override.json()["id"], "follow_up": planned.json()["id"]}


async def test_every_write_on_a_closed_case_answers_409_naming_the_date(client_for, closed_case, app):
    chair = await client_for("chair")
    task_id = (await chair.get(f"/api/cases/{closed_case['id']}/tasks")).json()[0]["id"]
    ids = {"case_id": closed_case["id"], "task_id": task_id, "follow_up_id": closed_case["follow_up"],
           "consent_id": closed_case["consent"]["id"], "override_id": closed_case["override"], "item_id": 1}
    checked = 0
    for path, methods in app.route_handler_method_map.items():
        # A conference's research on a case needs the case on its agenda (test_research checks the 409 there).
        if not any(p in path for p in CASE_PARAMETERS) or path in STILL_ALLOWED or "{conference_id" in path:
            continue
        for method, handler in methods.items():
            if method not in {"POST", "PUT", "PATCH", "DELETE"}:
                continue
            kind = declared_input(app, path, method)
            body = sample(kind) if kind is not None else {}
            send = getattr(chair, method.lower())
            if path.startswith("/api/"):
                response = await send(url(path, **ids), json=body)
            else:
                # Fields a page form has beyond its API twin's (the survivor's name on the edit form) filled in too.
                response = await send(url(path, **ids), data={**form_fields("a", "1"), **as_form(body)})
            assert response.status_code == 409, (method, path, response.status_code, response.text[:300])
            assert "this case is closed" in response.text and TODAY.isoformat() in response.text, (method, path)
            checked += 1
    assert checked >= 20


async def test_a_closed_case_discloses_nothing_to_other_agencies_until_reopened(client_for, closed_case):
    health, chair = await client_for("doc"), await client_for("chair")
    items = (await health.get(f"/api/cases/{closed_case['id']}/items")).json()
    assert [(i["category"], i["withheld"]) for i in items] == [("police.call_outs", True)]
    assert "The case is closed" in items[0]["withheld_reason"]
    reopened = await chair.post(f"/api/cases/{closed_case['id']}/reopen", json={"reason": "she asked for help again"})
    assert reopened.status_code == 201, reopened.text
    assert reopened.json()["stage"] == "follow_up" and reopened.json()["closed_at"] is None
    items = (await health.get(f"/api/cases/{closed_case['id']}/items")).json()
    assert items[0]["text"] == "Two call-outs in May"  # under the consent then in force


async def test_consent_records_leave_the_closed_file_for_the_register(client_for, closed_case):
    chair, supervisor, health = await client_for("chair"), await client_for("supervisor"), await client_for("doc")
    assert (await chair.get(f"/api/cases/{closed_case['id']}/consents")).json() == []
    page = await chair.get(f"/cases/{closed_case['id']}/consents")
    assert "case conference" not in page.text
    export = (await chair.get(f"/api/cases/{closed_case['id']}/export")).json()
    assert "consents" not in export or export["consents"] == []

    register = await chair.get(f"/api/cases/{closed_case['id']}/consent-register")  # social work recorded it
    assert register.status_code == 200
    assert [c["purpose"] for c in register.json()["consents"]] == ["case conference"]
    assert (await supervisor.get(f"/api/cases/{closed_case['id']}/consent-register")).status_code == 200
    assert (await health.get(f"/api/cases/{closed_case['id']}/consent-register")).status_code == 404
    page = await supervisor.get(f"/cases/{closed_case['id']}/consent-register")
    assert "Who has her consent" in page.text and "case conference" in page.text
    withdrawn = await chair.post(f"/api/cases/{closed_case['id']}/consents/{closed_case['consent']['id']}/withdrawals",
                                 json={"scope_ids": []})
    assert withdrawn.status_code == 201  # her right at any time


async def test_reopening_with_a_new_incident_within_a_year_counts_as_a_repeat(client_for, closed_case):
    chair, police = await client_for("chair"), await client_for("pc")
    refused = await police.post(f"/api/cases/{closed_case['id']}/reopen", json={"reason": "x"})
    assert refused.status_code == 403
    reopened = await chair.post(f"/api/cases/{closed_case['id']}/reopen", json={
        "reason": "new assault", "incident_on": TODAY.isoformat()})
    assert reopened.status_code == 201 and reopened.json()["repeat"] is True
    assert "repeat" in reopened.json()["referral_grounds"]
    again = await chair.post(f"/api/cases/{closed_case['id']}/reopen", json={"reason": "x"})
    assert again.status_code == 409
    history = (await chair.get(f"/api/cases/{closed_case['id']}/history")).json()["revisions"]
    assert [r["kind"] for r in history][:2] == ["reopened", "closed"]


async def test_a_reopened_case_takes_edits_reassessment_and_stage_moves_from_its_former_lead(client_for, closed_case):
    chair, social = await client_for("chair"), await client_for("sw")  # social work led the case when it closed
    before = (await chair.get(f"/api/cases/{closed_case['id']}")).json()
    assert "Assign a task" not in (await chair.get(f"/cases/{closed_case['id']}/tasks")).text  # the page reads the rule
    reopened = await chair.post(f"/api/cases/{closed_case['id']}/reopen", json={"reason": "she asked for help again"})
    assert reopened.status_code == 201, reopened.text
    case = reopened.json()
    assert (case["stage"], case["version"], case["lead_agency"]) == ("follow_up", before["version"] + 1, "social_work")
    roles = (await chair.get(f"/api/cases/{closed_case['id']}/roles")).json()
    assert [(r["responsibility"], r["agency"]) for r in roles] == [("lead_agency", "social_work")]
    assert "Assign a task" in (await chair.get(f"/cases/{closed_case['id']}/tasks")).text

    edited = await social.patch(f"/api/cases/{case['id']}", json={
        "version": case["version"], "reason": "new address", "summary": "Back in the area"})
    assert edited.status_code == 200, edited.text
    reassessed = await social.post(f"/api/cases/{case['id']}/risk", json={
        "version": edited.json()["version"], "reason": "new threats", "checklist_score": 18})
    assert reassessed.status_code == 201, reassessed.text
    moved = await social.post(f"/api/cases/{case['id']}/stage", json={
        "version": reassessed.json()["version"], "stage": "action_plan", "reason": "a new plan is needed"})
    assert moved.status_code == 201, moved.text
    assert moved.json()["version"] == case["version"] + 3

    history = (await chair.get(f"/api/cases/{case['id']}/history")).json()["revisions"]
    assert [r["kind"] for r in history][:4] == ["stage_moved", "reassessed", "edited", "reopened"]
    assert history[0]["changes"]["stage"] == ["follow_up", "action_plan"]
    assert history[3]["changes"]["stage"] == ["closed", "follow_up"]


async def test_the_history_records_where_a_closure_and_a_stage_move_came_from(client_for, people, case):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    moved = await chair.post(f"/api/cases/{case['id']}/stage", json={
        "version": case["version"], "stage": "follow_up", "reason": "plan under way"})
    assert moved.status_code == 201, moved.text
    moved = await chair.post(f"/api/cases/{case['id']}/stage", json={
        "version": moved.json()["version"], "stage": "action_plan", "reason": "a new action is needed"})
    assert moved.status_code == 201, moved.text
    await close(chair, supervisor, case["id"])
    history = (await chair.get(f"/api/cases/{case['id']}/history")).json()["revisions"]
    by_kind = {r["kind"]: r for r in history}
    assert history[-1]["changes"]["stage"] == [case["stage"], "follow_up"]
    assert history[-2]["changes"]["stage"] == ["follow_up", "action_plan"]
    assert by_kind["closed"]["changes"]["stage"] == ["action_plan", "closed"]
    assert by_kind["closure_requested"]["changes"] == {"closure": [None, "requested"]}
    assert [r["version"] for r in history] == list(range(history[0]["version"], history[0]["version"] - len(history), -1))


async def test_each_agency_signs_off_its_own_tasks_and_the_supervisor_sees_who_signed_what(
        client_for, people, case, sessionmaker):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    police, health = await client_for("pc"), await client_for("doc")
    url = f"/api/cases/{case['id']}/sign-offs"
    assert (await police.post(url, json={"agency": "health", "decision": "done"})).status_code == 403
    on_behalf = await chair.post(url, json={"agency": "police", "decision": "done"})
    assert on_behalf.status_code == 403 and "own people" in on_behalf.json()["detail"]
    police_tasks = [t["title"] for t in await open_tasks(chair, case["id"]) if t["agency"] == "police"]
    await refer_her(await client_for("sw"), case["id"])  # contacting the support services is done through it
    signed = await police.post(url, json={"agency": "police", "decision": "done"})
    assert signed.status_code == 201, signed.text
    assert signed.json()["tasks"] == police_tasks and signed.json()["by_id"] == people["police"].id
    assert not [t for t in await open_tasks(chair, case["id"]) if t["agency"] == "police"]
    again = await police.post(url, json={"agency": "police", "decision": "done"})
    assert again.status_code == 409 and "no open task" in again.json()["detail"]
    unexplained = await health.post(url, json={"agency": "health", "decision": "not_applicable"})
    assert unexplained.status_code == 400 and unexplained.json()["field"] == "reason"
    assert (await health.post(url, json={"agency": "health", "decision": "not_applicable",
                                         "reason": "no health needs"})).status_code == 201
    async with sessionmaker() as session:
        audited = (await session.execute(select(AuditEntry.detail).where(
            AuditEntry.action == "case.tasks_signed_off"))).scalars().all()
    assert [json.loads(d)["agency"] for d in audited] == ["police", "health"]

    # The coordinator marks what social work left, all at once, in the request.
    requested = await chair.post(f"/api/cases/{case['id']}/closure", json={
        "criterion": "relocated", "closing_on": TODAY.isoformat(), "reasons": "moved to another city",
        "agencies": [{"agency": "social_work", "decision": "done"}]})
    assert requested.status_code == 201, requested.text
    assert await open_tasks(chair, case["id"]) == []
    page = (await supervisor.get(f"/cases/{case['id']}/closure")).text
    closing = page.split('id="closure-heading"')[1]
    assert "Signed off by the agencies" in closing
    assert "Police: all done, by Pc" in closing and "Health care: not applicable (no health needs), by Doc" in closing


async def test_the_closure_form_groups_open_tasks_by_agency_and_marks_all_of_one_at_once(client_for, people, case):
    chair, police = await client_for("chair"), await client_for("pc")
    page = (await chair.get(f"/cases/{case['id']}/closure")).text
    form = page.split('action="/cases/{}/closure"'.format(case["id"]))[1].split("</form>")[0]
    assert "Police · " in form and 'name="agency_police_decision"' in form and "Mark all not applicable" in form
    own = (await police.get(f"/cases/{case['id']}/tasks")).text
    assert f'action="/cases/{case["id"]}/sign-offs"' in own and 'name="agency" value="police"' in own
    assert 'name="agency" value="health"' not in own  # only its own agency's tasks
    tasks = await open_tasks(chair, case["id"])
    form = {"criterion": "relocated", "reasons": "moved away", "closing_on": TODAY.isoformat(),
            "task_ids": [str(t["id"]) for t in tasks], "review_agencies": sorted({t["agency"] for t in tasks})}
    for agency in form["review_agencies"]:
        form[f"agency_{agency}_decision"], form[f"agency_{agency}_reason"] = "not_applicable", "she moved away"
    sent = await chair.post(f"/cases/{case['id']}/closure", data=form)
    assert sent.status_code == 200, sent.text
    assert await open_tasks(chair, case["id"]) == []
    assert [c["status"] for c in (await chair.get(f"/api/cases/{case['id']}/closures")).json()] == ["requested"]


async def test_an_agency_signs_off_its_tasks_from_its_dashboard(client_for, people, case):
    police, health = await client_for("pc"), await client_for("doc")
    dashboard = (await police.get("/")).text
    assert f'action="/cases/{case["id"]}/sign-offs"' in dashboard and 'name="agency" value="police"' in dashboard
    assert 'name="agency" value="police"' not in (await health.get("/")).text
    await refer_her(await client_for("sw"), case["id"])  # contacting the support services is done through it
    signed = await police.post(f"/cases/{case['id']}/sign-offs", data={"agency": "police", "decision": "done"})
    assert signed.status_code == 200, signed.text
    chair = await client_for("chair")
    assert not [t for t in await open_tasks(chair, case["id"]) if t["agency"] == "police"]
    assert f'action="/cases/{case["id"]}/sign-offs"' not in (await police.get("/")).text  # nothing left to sign
