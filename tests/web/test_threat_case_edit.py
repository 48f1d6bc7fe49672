"""A threat-assessment case edits its own fields (subject, targets, concern, team), with no
survivor field, through the API and the case page's form."""

from __future__ import annotations

import pytest

from tests.web.test_threat_assessment import REFERRAL

SMALL_TEAM = {**REFERRAL, "agencies": ["education", "police"]}


@pytest.fixture
async def school(people, make_user):
    return await make_user("tat", "education")


async def open_small_team_case(chair) -> dict:
    created = await chair.post("/api/cases", json=SMALL_TEAM)
    assert created.status_code == 201, created.text
    return created.json()


def agencies_of(case: dict) -> list[str]:
    return sorted(a["key"] for a in case["agencies"])


def people_of(case: dict) -> list[tuple]:
    return sorted((p["role"], p["name"], p["target_kind"]) for p in case["people"])


async def test_the_api_edits_subject_targets_concern_and_team(client_for, school):
    chair = await client_for("chair")
    case = await open_small_team_case(chair)
    edited = await chair.patch(f"/api/cases/{case['id']}", json={
        "version": case["version"], "reason": "the threat now names the gym",
        "people": [{"role": "subject", "name": "Samuel"}, {"role": "target", "name": "Alex", "target_kind": "person"},
                   {"role": "target", "name": "Gym hall", "target_kind": "place"}],
        "concern": "Posted a picture of the gym with a threat", "team": ["education", "police", "health"]})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert people_of(body) == [("subject", "Samuel", None), ("target", "Alex", "person"),
                               ("target", "Gym hall", "place")]
    assert body["concern"] == "Posted a picture of the gym with a threat"
    assert agencies_of(body) == ["education", "health", "police"]
    health_tasks = [t for t in (await chair.get(f"/api/cases/{case['id']}/tasks")).json() if t["agency"] == "health"]
    assert health_tasks  # the new team member's task list came with it


async def test_a_threat_case_refuses_a_survivor_an_agency_leaving_and_a_team_change_by_a_member(
        client_for, school, sessionmaker):
    chair, member = await client_for("chair"), await client_for("tat")
    case = await open_small_team_case(chair)
    url = f"/api/cases/{case['id']}"
    survivor = await chair.patch(url, json={"version": case["version"], "reason": "r", "people": [
        {"role": "survivor", "name": "Alex"}, {"role": "target", "name": "Alex", "target_kind": "person"}]})
    assert survivor.status_code == 400 and survivor.json()["field"] == "people[0].role"
    no_target = await chair.patch(url, json={"version": case["version"], "reason": "r",
                                             "people": [{"role": "subject", "name": "Sam"}]})
    assert no_target.status_code == 400 and no_target.json()["field"] == "people"
    leaving = await chair.patch(url, json={"version": case["version"], "reason": "r", "team": ["education"]})
    assert leaving.status_code == 400 and leaving.json()["field"] == "team"
    by_member = await member.patch(url, json={"version": case["version"], "reason": "r",
                                              "team": ["education", "police", "health"]})
    assert by_member.status_code == 403
    after = (await chair.get(url)).json()
    assert after["version"] == case["version"] and agencies_of(after) == ["education", "police"]
    assert people_of(after) == people_of(case)  # nothing refused was written


async def test_the_page_form_has_no_survivor_field_and_edits_the_targets(client_for, school):
    chair = await client_for("chair")
    case = await open_small_team_case(chair)
    page = (await chair.get(f"/cases/{case['id']}/stage")).text
    assert 'name="survivor_name"' not in page and 'name="target_name_2"' in page and "Edit the subject, targets" in page
    saved = await chair.post(f"/cases/{case['id']}/edit", data={
        "version": str(case["version"]), "reason": "a second class was named", "subject_name": "Sam",
        "target_rows": "3", "target_name_0": "Alex", "target_kind_0": "person", "target_name_1": "",
        "target_kind_1": "group", "target_name_2": "Year 11 maths class", "target_kind_2": "group",
        "concern": "Threatened two classes", "team": ["education", "police", "social_work"]})
    assert saved.status_code == 200, saved.text  # the redirect back to the case, followed
    after = (await chair.get(f"/api/cases/{case['id']}")).json()
    assert people_of(after) == [("subject", "Sam", None), ("target", "Alex", "person"),
                                ("target", "Year 11 maths class", "group")]
    assert after["concern"] == "Threatened two classes"
    assert agencies_of(after) == ["education", "police", "social_work"]
