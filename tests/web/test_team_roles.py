"""A threat-assessment team's roles: a coordinator names the team's lead, the lead names the case manager and
the members by agency; a classification or a closure by anyone but the lead waits for the lead's approval, and
nobody approves their own."""

from __future__ import annotations

from sqlalchemy import select

from coordinator.models import AuditEntry, RaisedEvent
from tests.web.test_closure import request_closure
from tests.web.test_threat_teams import classify, report


async def name(client, case_id: int, user_id: int, role: str):
    return await client.post(f"/api/cases/{case_id}/team", json={"user_id": user_id, "role": role})


async def levels(client, case_id: int) -> list[tuple[int, str, str]]:
    history = (await client.get(f"/api/cases/{case_id}/screening")).json()["history"]
    return [(s["version"], s["level"], s["status"]) for s in history]


async def test_the_lead_approves_a_classification_by_anyone_else_and_nobody_approves_their_own(
        client_for, team, sessionmaker):
    chair, school, lead, officer = (await client_for("chair"), await client_for("tat"), await client_for("counsellor"),
                                    await client_for("pc"))
    case = await report(school)
    for user, role in ((team["counsellor"], "lead"), (team["education"], "case_manager"), (team["police"], "member")):
        assert (await name(chair, case["id"], user.id, role)).status_code == 200
    roles = (await school.get(f"/api/cases/{case['id']}/team")).json()["roles"]
    assert [(r["name"], r["role"], r["agency"]) for r in roles] == [
        ("Counsellor", "lead", "education"), ("Tat", "case_manager", "education"), ("Pc", "member", "police")]

    first = await classify(school, case["id"], 0, "transient")
    assert first.status_code == 201 and await levels(school, case["id"]) == [(1, "transient", "pending")]
    waiting = await classify(officer, case["id"], 1, "substantive_serious")
    assert waiting.status_code == 409 and "awaits the team lead's approval" in waiting.json()["detail"]
    decision = f"/api/cases/{case['id']}/screening/1/decision"
    own = await school.post(decision, json={"approve": True})
    assert own.status_code == 403 and "nobody approves their own" in own.json()["detail"]
    member = await officer.post(decision, json={"approve": True})
    assert member.status_code == 403 and "team's lead" in member.json()["detail"]
    approved = await lead.post(decision, json={"approve": True})
    assert approved.status_code == 200, approved.text
    assert approved.json()["history"][0] | {"at": None} == {
        "version": 1, "level": "transient", "status": "approved", "decided_by": "Counsellor", "by": "Tat",
        "reasons": "the team's reasons", "participants": [], "at": None, "decision_note": None}
    assert (await lead.post(decision, json={"approve": True})).status_code == 409  # decided already

    # A rise waits too: refused, it raises nothing; approved, it raises the case's event once.
    assert (await classify(officer, case["id"], 1, "substantive_serious")).status_code == 201
    bare = await lead.post(f"/api/cases/{case['id']}/screening/2/decision", json={"approve": False})
    assert bare.status_code == 400 and bare.json()["field"] == "note"
    refused = await lead.post(f"/api/cases/{case['id']}/screening/2/decision",
                              json={"approve": False, "note": "nothing new since the screening"})
    assert refused.status_code == 200 and refused.json()["history"][0]["decision_note"] == "nothing new since the screening"
    assert (await classify(officer, case["id"], 2, "substantive_serious")).status_code == 201
    assert (await lead.post(f"/api/cases/{case['id']}/screening/3/decision", json={"approve": True})).status_code == 200
    own_level = await classify(lead, case["id"], 3, "substantive_very_serious")  # the lead's own stands at once
    assert own_level.status_code == 201
    assert await levels(school, case["id"]) == [
        (4, "substantive_very_serious", "approved"), (3, "substantive_serious", "approved"),
        (2, "substantive_serious", "refused"), (1, "transient", "approved")]
    async with sessionmaker() as session:
        raised = (await session.execute(select(RaisedEvent.subject).where(
            RaisedEvent.case_id == case["id"], RaisedEvent.event == "threat_level_raised"))).scalars().all()
        audited = (await session.execute(select(AuditEntry.action).where(
            AuditEntry.case_id == case["id"], AuditEntry.action.like("screening.%")))).scalars().all()
    assert len(raised) == 2 and sorted(audited) == ["screening.approved", "screening.approved", "screening.refused"]


async def test_the_lead_decides_on_the_page_and_the_others_see_it_waiting(client_for, team):
    chair, school, lead = await client_for("chair"), await client_for("tat"), await client_for("counsellor")
    case = await report(school)
    named = await chair.post(f"/cases/{case['id']}/team", data={"user_id": str(team["counsellor"].id), "role": "lead"})
    assert named.status_code == 200 and "Counsellor" in named.text
    page = await school.post(f"/cases/{case['id']}/screening", data={
        "version": "0", "level": "substantive_serious", "reasons": "a named target"})
    assert page.status_code == 200 and "awaits the team lead's approval" in page.text
    assert "Approve the classification" not in page.text and "Record the classification" not in page.text
    waiting = (await lead.get(f"/cases/{case['id']}/threat-plan")).text
    assert "Approve the classification" in waiting
    decided = await lead.post(f"/cases/{case['id']}/screening/1/decision", data={"approve": "yes", "note": ""})
    assert decided.status_code == 200 and "Classified Substantive serious" in decided.text
    refused = await lead.post(f"/cases/{case['id']}/screening/1/decision", data={"approve": "yes"})
    assert refused.status_code == 409 and "decided already" in refused.text


async def test_the_lead_names_the_team_but_not_a_new_lead_and_only_people_of_the_team(client_for, team):
    chair, school, lead = await client_for("chair"), await client_for("tat"), await client_for("counsellor")
    case = await report(school)
    assert (await name(school, case["id"], team["education"].id, "lead")).status_code == 403
    assert (await name(chair, case["id"], team["counsellor"].id, "lead")).status_code == 200
    assert (await name(lead, case["id"], team["education"].id, "case_manager")).status_code == 200
    replaced = await name(lead, case["id"], team["police"].id, "case_manager")  # one case manager at a time
    assert [(r["name"], r["role"]) for r in replaced.json()["roles"]] == [
        ("Counsellor", "lead"), ("Pc", "case_manager")]
    taken = await name(lead, case["id"], team["education"].id, "lead")
    assert taken.status_code == 403 and "coordinator" in taken.json()["detail"]
    outsider = await name(lead, case["id"], team["housing"].id, "member")  # housing is not on the case
    assert outsider.status_code == 400 and outsider.json()["field"] == "user_id"
    assert (await classify(school, case["id"], 0, "transient")).status_code == 201  # awaits the lead
    own = await name(chair, case["id"], team["education"].id, "lead")  # she would approve her own
    assert own.status_code == 409 and own.json()["field"] == "user_id"
    [manager] = [r for r in replaced.json()["roles"] if r["role"] == "case_manager"]
    ended = await lead.post(f"/api/cases/{case['id']}/team/{manager['id']}/end")
    assert [r["role"] for r in ended.json()["roles"]] == ["lead"]
    assert (await lead.post(f"/api/cases/{case['id']}/team/{manager['id']}/end")).status_code == 409


async def test_the_lead_decides_a_closure_requested_by_someone_else(client_for, team):
    chair, school, lead = await client_for("chair"), await client_for("tat"), await client_for("counsellor")
    supervisor = await client_for("supervisor")
    case = await report(school)
    assert (await name(chair, case["id"], team["counsellor"].id, "lead")).status_code == 200
    requested = await request_closure(school, case["id"])
    assert requested.status_code == 201, requested.text
    assert "The team's lead decides" in (await school.get(f"/cases/{case['id']}/closure")).text
    decision = f"/api/cases/{case['id']}/closures/{requested.json()['id']}/decision"
    by_supervisor = await supervisor.post(decision, json={"approve": True})
    assert by_supervisor.status_code == 403 and "team's lead" in by_supervisor.json()["detail"]
    assert "Approve the closure" in (await lead.get(f"/cases/{case['id']}/closure")).text
    approved = await lead.post(decision, json={"approve": True})
    assert approved.status_code == 201 and approved.json()["status"] == "approved"
