"""Follow-up contacts (GBV step 5): planned by an agency on the case, the outcome recorded by that
agency or a coordinator with a safety reassessment, new tasks (a referral only with the survivor's
consent), and 'not reached for 30 days' shown on the case."""

import datetime as dt
import json

from sqlalchemy import select

from coordinator.models import AuditEntry, FollowUp, Task, utcnow
from tests.sharing_steps import grant_consent, row_counts
from tests.web.support import whole_case

SAFE_WORDS = "Say you are calling from the dentist about a check-up"
STATUS = "Staying with her sister; sleeping badly; children back at school"
NEEDS = "Needs legal advice on the tenancy"
TODAY = utcnow().date()


def day(offset: int) -> str:
    return (TODAY + dt.timedelta(days=offset)).isoformat()


def planned(**fields) -> dict:
    return {"agency": "police", "planned_on": day(3), "method": "phone", "safe_to_call": True,
            "safe_contact": SAFE_WORDS, **fields}


async def plan(client, case_id: int, **fields) -> dict:  # noqa: ANN001
    answer = await client.post(f"/api/cases/{case_id}/follow-ups", json=planned(**fields))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def record(client, follow_up: dict, **fields):  # noqa: ANN001, ANN201
    body = {"version": follow_up["version"], "outcome": "reached", "attempted_on": day(0),
            "safety_status": STATUS, "new_needs": NEEDS, **fields}
    return await client.post(f"/api/follow-ups/{follow_up['id']}/outcome", json=body)


async def test_a_contact_is_planned_with_its_safe_contact_words_shown_through_the_gate(client_for, case, people):
    police, health = await client_for("pc"), await client_for("doc")
    follow_up = await plan(police, case["id"], person_id=people["police"].id)
    assert follow_up["plan_note"]["notes"] == {"safe_contact": SAFE_WORDS}
    assert follow_up["person_name"] == people["police"].display_name

    seen = (await health.get(f"/api/cases/{case['id']}/follow-ups")).json()["follow_ups"][0]
    assert seen["planned_on"] == day(3) and seen["method"] == "phone"  # the case's agencies see the plan
    assert seen["plan_note"]["withheld"] and seen["plan_note"]["notes"] is None  # but not what is said
    page = (await whole_case(health, case['id'])).text
    assert SAFE_WORDS not in page and "Withheld:</strong> follow-up notes, held by Police" in page
    assert SAFE_WORDS not in (await health.get(f"/cases/{case['id']}/export.html")).text

    await grant_consent(await client_for("sw"), case["id"], ["case.follow_up"], ["health"])
    assert SAFE_WORDS in (await whole_case(health, case['id'])).text


async def test_only_the_agency_or_a_coordinator_plans_and_bad_plans_name_the_field(
        client_for, case, people, sessionmaker):
    police, chair = await client_for("pc"), await client_for("chair")
    before = await row_counts(sessionmaker)
    refused = await police.post(f"/api/cases/{case['id']}/follow-ups", json=planned(agency="health"))
    assert refused.status_code == 403 and "Health" in refused.json()["detail"]
    for body, field in ((planned(agency="housing"), "agency"), (planned(method="pigeon"), "method"),
                        (planned(safe_to_call=False), "method"), (planned(person_id=people["health"].id), "person_id"),
                        (planned(planned_on="tomorrow"), "planned_on"), (planned(safe_contact="\x00"), "safe_contact")):
        answer = await chair.post(f"/api/cases/{case['id']}/follow-ups", json=body)
        assert answer.status_code == 400 and answer.json()["field"] == field, (body, answer.text)
    form = await police.post(f"/cases/{case['id']}/follow-ups", data={
        "agency": "police", "planned_on": day(2), "method": "phone", "safe_contact": SAFE_WORDS})
    assert form.status_code == 400 and "say whether it is safe to call" in form.text and SAFE_WORDS in form.text
    assert await row_counts(sessionmaker) == before
    assert (await chair.post(f"/api/cases/{case['id']}/follow-ups", json=planned(agency="health"))).status_code == 201


async def test_the_outcome_reassesses_safety_and_revises_the_action_plan(client_for, case, sessionmaker):
    police, chair = await client_for("pc"), await client_for("chair")
    follow_up = await plan(police, case["id"])
    answer = await record(police, follow_up, updated_risk="medium", services_accessed="IDVA, GP",
                          tasks=[{"agency": "social_work", "title": "Refer to the legal advice clinic",
                                  "domain": "victim", "referral": True, "referral_consent": True}])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["outcome"], body["updated_risk"], body["version"]) == ("reached", "medium", 2)
    assert body["outcome_note"]["notes"] == {"safety_status": STATUS, "new_needs": NEEDS,
                                             "services_accessed": "IDVA, GP"}
    tasks = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
    added = [t for t in tasks if t["source"] == "follow_up"]
    assert [(t["agency"], t["title"]) for t in added] == [("social_work", "Refer to the legal advice clinic")]
    page = (await whole_case(police, case['id'])).text
    assert "Does the survivor have any new needs?" in page and NEEDS in page
    async with sessionmaker() as session:
        entry = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "follow_up.outcome_recorded"))).scalar_one()
    detail = json.loads(entry.detail)
    assert detail["referrals_with_consent"] == [added[0]["id"]] and STATUS not in entry.detail

    again = await record(police, body)
    assert again.status_code == 409 and "recorded already" in again.json()["detail"]


async def test_outcome_rules_refuse_and_write_nothing(client_for, case, sessionmaker):
    police, health = await client_for("pc"), await client_for("doc")
    follow_up = await plan(police, case["id"])
    assert (await record(health, follow_up)).status_code == 403
    before = await row_counts(sessionmaker)
    referral = {"agency": "social_work", "title": "Refer to counselling", "domain": "victim", "referral": True}
    for fields, field in (({"tasks": [referral]}, "tasks[0].referral_consent"),
                          ({"tasks": [referral | {"agency": "housing", "referral_consent": True}]}, "tasks[0].agency"),
                          ({"outcome": "not_reached", "updated_risk": "high"}, "updated_risk"),
                          ({"safety_status": ""}, "safety_status"),
                          ({"attempted_on": day(1)}, "attempted_on"),
                          ({"outcome": "maybe"}, "outcome")):
        answer = await record(police, follow_up, **fields)
        assert answer.status_code == 400 and answer.json()["field"] == field, (fields, answer.text)
    stale = await record(police, follow_up | {"version": 7})
    assert stale.status_code == 409 and stale.json()["extra"]["current"]["version"] == 1
    form = await police.post(f"/follow-ups/{follow_up['id']}/outcome", data={
        "version": "1", "outcome": "reached", "attempted_on": day(0), "safety_status": STATUS,
        "task_agency_0": "social_work", "task_title_0": "Refer to counselling", "task_domain_0": "victim",
        "task_referral_0": "yes"})
    assert form.status_code == 400 and "needs the survivor&#39;s consent" in form.text
    async with sessionmaker() as session:
        assert (await session.execute(select(Task).where(Task.source == "follow_up"))).first() is None
    assert await row_counts(sessionmaker) == before


async def test_the_page_form_records_an_outcome(client_for, case):
    police = await client_for("pc")
    follow_up = await plan(police, case["id"])
    answer = await police.post(f"/follow-ups/{follow_up['id']}/outcome", data={
        "version": "1", "outcome": "not_reached", "attempted_on": day(0), "updated_risk": ""})
    assert answer.status_code == 200 and f"Not reached {day(0)}" in answer.text


async def test_not_reached_for_thirty_days_shows_on_the_case(client_for, case, sessionmaker):
    police, chair = await client_for("pc"), await client_for("chair")
    for offset in (-35, -20, -4):
        follow_up = await plan(police, case["id"], planned_on=day(offset))
        outcome = await record(police, follow_up, outcome="not_reached", attempted_on=day(offset), safety_status="")
        assert outcome.status_code == 200, outcome.text
    listing = (await chair.get(f"/api/cases/{case['id']}/follow-ups")).json()
    assert listing["not_reached_days"] == 31
    assert "Not reached for 31 days" in (await whole_case(chair, case['id'])).text

    reached = await plan(police, case["id"], planned_on=day(0))
    assert (await record(police, reached)).status_code == 200
    assert (await chair.get(f"/api/cases/{case['id']}/follow-ups")).json()["not_reached_days"] is None
    assert "Not reached for" not in (await whole_case(chair, case['id'])).text
    async with sessionmaker() as session:
        assert len((await session.execute(select(FollowUp))).all()) == 4


async def test_a_higher_risk_found_at_a_contact_raises_the_case_and_its_event(client_for, people):
    chair, police = await client_for("chair"), await client_for("pc")
    created = await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "checklist_score": 11, "incidents_last_12_months": 3,
        "people": [{"role": "survivor", "name": "Nora"}], "agencies": ["police", "social_work"]})
    case = created.json()
    assert case["risk_level"] == "medium"
    follow_up = await plan(police, case["id"])
    answer = await record(police, follow_up, updated_risk="high")
    assert answer.status_code == 200, answer.text
    after = (await chair.get(f"/api/cases/{case['id']}")).json()
    assert after["risk_level"] == "high"
    history = (await chair.get(f"/api/cases/{case['id']}/history")).json()
    assert [e["event"] for e in history["events"]] == ["risk_raised"]
    assert history["revisions"][0]["changes"] == {"risk_level": ["medium", "high"]}
    social = [t["title"] for t in (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
              if t["agency"] == "social_work" and t["source"] == "case_event"]
    assert social == ["Review safe housing and crisis support now that the risk is raised"]
