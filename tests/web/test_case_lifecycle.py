"""A case after its referral: edits with history, risk reassessment, stages, the lead agency kept
once (the role map's), and the page forms that do the same."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from coordinator.models import Case, CaseRevision
from tests.sharing_steps import consent_to_join
from tests.web.support import whole_case


async def _case(chair, **fields) -> dict:
    response = await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "checklist_score": 15, "agencies": ["police", "social_work", "health"],
        "lead_agency": "social_work", "people": [{"role": "survivor", "name": "Nora"}, {"role": "subject", "name": "Mark"}],
        **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_edit_is_a_new_version_with_who_when_why_and_what(client_for, people, sessionmaker):
    chair = await client_for("chair")
    case = await _case(chair)
    edited = await chair.patch(f"/api/cases/{case['id']}", json={
        "version": 1, "reason": "survivor moved", "summary": "Now at her sister's",
        "key_dates": [{"kind": "hearing", "on": "2030-02-01"}]})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["summary"]) == (2, "Now at her sister's")
    history = (await chair.get(f"/api/cases/{case['id']}/history")).json()["revisions"]
    [revision] = history
    assert (revision["version"], revision["kind"], revision["reason"]) == (2, "edited", "survivor moved")
    assert revision["changes"]["summary"] == ["", "Now at her sister's"] and "key_dates" in revision["changes"]
    assert revision["by_id"] == people["chair"].id
    page = await whole_case(chair, case['id'])
    assert "Version 2" in page.text and "survivor moved" in page.text


async def test_a_stale_edit_is_refused_and_writes_nothing(client_for, people, sessionmaker):
    chair = await client_for("chair")
    case = await _case(chair)
    assert (await chair.patch(f"/api/cases/{case['id']}", json={"version": 1, "reason": "a", "summary": "one"})).status_code == 200
    stale = await chair.patch(f"/api/cases/{case['id']}", json={"version": 1, "reason": "b", "summary": "two"})
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    async with sessionmaker() as session:
        assert (await session.get(Case, case["id"])).summary == "one"
        assert (await session.execute(select(func.count()).select_from(CaseRevision))).scalar() == 1


async def test_only_a_coordinator_or_the_lead_agency_edits_and_a_reason_is_required(client_for, people):
    chair, police, social = await client_for("chair"), await client_for("pc"), await client_for("sw")
    case = await _case(chair)
    refused = await police.patch(f"/api/cases/{case['id']}", json={"version": 1, "reason": "x", "summary": "y"})
    assert refused.status_code == 403 and "lead agency" in refused.json()["detail"]
    no_reason = await social.patch(f"/api/cases/{case['id']}", json={"version": 1, "reason": " ", "summary": "y"})
    assert no_reason.status_code == 400 and no_reason.json()["field"] == "reason"
    unchanged = await social.patch(f"/api/cases/{case['id']}", json={"version": 1, "reason": "x", "summary": ""})
    assert unchanged.status_code == 400
    no_survivor = await social.patch(f"/api/cases/{case['id']}", json={
        "version": 1, "reason": "x", "people": [{"role": "subject", "name": "Mark"}]})
    assert no_survivor.status_code == 400 and no_survivor.json()["field"] == "people"
    assert (await social.patch(f"/api/cases/{case['id']}", json={"version": 1, "reason": "x", "summary": "y"})).status_code == 200


async def test_a_reassessment_keeps_the_checklist_rule(client_for, people):
    chair = await client_for("chair")
    case = await _case(chair)
    lower = await chair.post(f"/api/cases/{case['id']}/risk", json={
        "version": 1, "reason": "review", "judgement_level": "medium", "judgement_reasons": "calmer"})
    assert lower.status_code == 400 and lower.json()["field"] == "judgement_level"  # 15 of 24 is high
    unexplained = await chair.post(f"/api/cases/{case['id']}/risk", json={
        "version": 1, "reason": "review", "checklist_score": 5, "judgement_level": "high"})
    assert unexplained.status_code == 400 and unexplained.json()["field"] == "judgement_reasons"
    nothing = await chair.post(f"/api/cases/{case['id']}/risk", json={"version": 1, "reason": "review"})
    assert nothing.status_code == 400
    kept_high = await chair.post(f"/api/cases/{case['id']}/risk", json={
        "version": 1, "reason": "review", "checklist_score": 5, "judgement_level": "high",
        "judgement_reasons": "threats to kill"})
    assert kept_high.status_code == 201 and kept_high.json()["risk_level"] == "high"


async def test_stages_move_with_a_reason_and_closing_is_its_own_step(client_for, people):
    chair = await client_for("chair")
    case = await _case(chair)
    moved = await chair.post(f"/api/cases/{case['id']}/stage", json={
        "version": 1, "stage": "information_gathering", "reason": "agencies researching"})
    assert moved.status_code == 201 and moved.json()["stage"] == "information_gathering"
    closed = await chair.post(f"/api/cases/{case['id']}/stage", json={"version": 2, "stage": "closed", "reason": "x"})
    assert closed.status_code == 400 and closed.json()["field"] == "stage"
    same = await chair.post(f"/api/cases/{case['id']}/stage", json={
        "version": 2, "stage": "information_gathering", "reason": "x"})
    assert same.status_code == 400
    def cases_listed(page: str) -> str:
        return page.split('id="cases-heading"')[1].split("</section>")[0]
    assert case["reference"] in cases_listed((await chair.get("/?stage=information_gathering")).text)
    assert case["reference"] not in cases_listed((await chair.get("/?stage=follow_up")).text)


async def test_the_lead_agency_is_one_record_and_decides_who_records_consent(client_for, people):
    chair, social, health = await client_for("chair"), await client_for("sw"), await client_for("doc")
    case = await _case(chair)
    consent = {"purpose": "safety planning", "method": "verbal", "given_by": "Nora",
               "categories": ["police.call_outs"], "recipients": ["health"]}
    assert (await health.post(f"/api/cases/{case['id']}/consents", json=consent)).status_code == 403

    moved = await chair.post(f"/api/cases/{case['id']}/roles", json={
        "responsibility": "lead_agency", "agency": "health", "version": 1})
    assert moved.status_code == 201, moved.text
    assert (await chair.get(f"/api/cases/{case['id']}")).json()["lead_agency"] == "health"
    assert [r["agency"] for r in moved.json() if r["responsibility"] == "lead_agency"] == ["health"]
    assert (await health.post(f"/api/cases/{case['id']}/consents", json=consent)).status_code == 201
    assert (await social.post(f"/api/cases/{case['id']}/consents", json=consent)).status_code == 403
    stale = await chair.post(f"/api/cases/{case['id']}/roles", json={
        "responsibility": "lead_agency", "agency": "police", "version": 1})
    assert stale.status_code == 409
    member = await social.post(f"/api/cases/{case['id']}/roles", json={
        "responsibility": "lead_agency", "agency": "social_work", "version": 2})
    assert member.status_code == 403


async def test_the_page_forms_edit_reassess_and_move_the_case(client_for, people):
    chair = await client_for("chair")
    case = await _case(chair)
    form = {"version": "1", "reason": "new address", "survivor_name": "Nora", "subject_name": "Mark",
            "children": "Ella", "summary": "Moved", "key_date_rows": "1", "key_date_kind_0": "hearing",
            "key_date_on_0": "2030-03-01", "key_date_note_0": ""}
    saved = await chair.post(f"/cases/{case['id']}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/cases/{case['id']}/stage"
    after = (await chair.get(f"/api/cases/{case['id']}")).json()
    assert after["has_children"] and after["key_dates"] == [{"kind": "hearing", "on": "2030-03-01", "note": ""}]
    moved = await chair.post(f"/cases/{case['id']}/stage", data={"version": "2", "stage": "conference", "reason": "x"})
    assert moved.status_code == 200
    page = await whole_case(chair, case['id'])
    assert "Stage: Conference" in page.text
    refused = await chair.post(f"/cases/{case['id']}/risk", data={"version": "3", "reason": "x", "checklist_score": "30"})
    assert refused.status_code == 400 and "24" in refused.text


async def test_the_dashboard_groups_due_work_by_case_with_its_reference(client_for, people):
    chair, police = await client_for("chair"), await client_for("pc")
    first, second = await _case(chair), await _case(chair)
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    for case in (first, second):
        await chair.post(f"/api/cases/{case['id']}/tasks", json={
            "agency": "police", "title": "Visit the address", "domain": "victim", "due_on": yesterday})
    page = (await police.get("/")).text
    assert page.count("Visit the address") == 2
    assert first["reference"] in page and second["reference"] in page
    overview = (await chair.get("/")).text
    assert "Overdue work by agency" in overview and "Police" in overview


async def test_the_coordinator_is_offered_only_the_agencies_not_yet_on_the_case(client_for, people, app):
    chair, police = await client_for("chair"), await client_for("pc")
    case = await _case(chair)
    page = (await whole_case(chair, case['id'])).text
    assert "Add with its task list" in page and "Assign a task" in page
    assert "Add with its task list" not in (await whole_case(police, case['id'])).text
    joining = [agency for agency in app.state.registry.keys if agency not in ("police", "social_work", "health")]
    await consent_to_join(chair, case["id"], *joining)
    for agency in joining:
        assert (await chair.post(f"/api/cases/{case['id']}/agencies", json={"agency": agency})).status_code == 201
    page = (await whole_case(chair, case['id'])).text
    assert "Add with its task list" not in page and "Every installed agency is part of this case" in page


async def test_scheduling_names_each_case_by_initials_and_summary_and_ticks_the_queue(client_for, people):
    chair = await client_for("chair")
    quiet = await _case(chair, summary="Left the area in May")
    risen = await _case(chair, checklist_score=11, incidents_last_12_months=3,
                        summary="Threats after the hearing\nSecond line is not shown")
    raised = await chair.post(f"/api/cases/{risen['id']}/risk", json={
        "version": 1, "checklist_score": 18, "reason": "new threats"})
    assert raised.status_code == 201, raised.text
    form = (await chair.get("/conferences/new")).text
    rows = form.split('<label><input type="checkbox" name="case_ids"')[1:]
    line = next(row.split("</label>")[0] for row in rows if row.startswith(f' value="{risen["id"]}"'))
    assert "N." in line and "Threats after the hearing" in line and "Second line" not in line
    assert "to be heard:</strong> the risk level rose" in line and " checked>" in line
    other = next(row.split("</label>")[0] for row in rows if row.startswith(f' value="{quiet["id"]}"'))
    assert " checked>" not in other and "Left the area in May" in other
