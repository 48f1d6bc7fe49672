"""Before the meeting, through the API: the research deadline, the agenda circulated to the invited
agencies (each sees reference, initials and risk of the cases it is on, the line alone of the others),
the agencies' research returns and the chair's readiness view; research items pass the consent gate
only as their agency released them (drafts never, "at the meeting" once the chair opens the case)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from coordinator.conference.research import research_deadline
from coordinator.models import AuditEntry, Case, Conference, Disclosure, Participant
from coordinator.settings import Settings
from tests.conftest import REFERRAL
from tests.sharing_steps import consent_to_join, grant_consent

pytestmark = pytest.mark.usefixtures("live_channels")

HELD = "Attended the emergency department with a fractured wrist on 2 May"
KEPT_BACK = "Named a neighbour as a witness"


def test_the_deadline_counts_working_days_back_from_the_meeting():
    thursday = dt.datetime(2027, 1, 7, 10, tzinfo=dt.UTC)
    assert research_deadline(thursday, 3) == dt.datetime(2027, 1, 4, 10, tzinfo=dt.UTC)  # Monday
    tuesday = dt.datetime(2027, 1, 5, 10, tzinfo=dt.UTC)
    assert research_deadline(tuesday, 3) == dt.datetime(2026, 12, 31, 10, tzinfo=dt.UTC)  # over the weekend
    assert Settings.from_env({"COORDINATOR_RESEARCH_DAYS": "5"}).research_days == 5
    assert Settings.from_env({}).research_days == 3


async def schedule(chair, people, case_ids: list[int], *, days_ahead: int = 14) -> dict:
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days_ahead)).replace(microsecond=0)
    response = await chair.post("/api/conferences", json={
        "title": "MARAC", "scheduled_at": when.isoformat(), "chair_id": people["chair"].id, "case_ids": case_ids,
        "participants": [{"user_id": people[a].id} for a in ("police", "social_work", "health")]})
    assert response.status_code == 201, response.text
    return {"id": response.json()["id"], "scheduled_at": when}


async def adults_case(chair) -> int:
    response = await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "people": [{"role": "survivor", "name": "Ana Ruiz"}], "checklist_score": 16,
        "agencies": ["police", "social_work"]})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_circulating_tells_each_invited_agency_its_agenda_and_the_deadline(client_for, people, case,
                                                                                 sessionmaker):
    chair, doc, hou = await client_for("chair"), await client_for("doc"), await client_for("hou")
    other = await adults_case(chair)  # health is not on it
    conference = await schedule(chair, people, [case["id"], other])
    url = f"/api/conferences/{conference['id']}"
    expected_due = research_deadline(conference["scheduled_at"], 3)

    not_yet = await doc.get(f"{url}/research")
    assert not_yet.status_code == 409 and "not been circulated" in not_yet.json()["detail"]
    assert (await doc.post(f"{url}/agenda/circulate")).status_code == 403  # the chair's to send
    circulated = await chair.post(f"{url}/agenda/circulate")
    assert circulated.status_code == 200, circulated.text
    assert dt.datetime.fromisoformat(circulated.json()["research_due_at"]) == expected_due
    again = await chair.post(f"{url}/agenda/circulate")
    assert again.status_code == 409 and "already" in again.json()["detail"]

    agenda = (await doc.get(f"{url}/research")).json()
    assert dt.datetime.fromisoformat(agenda["research_due_at"]) == expected_due
    lines = {line["case_id"]: line for line in agenda["lines"]}
    assert lines[case["id"]] == {"case_id": case["id"], "reference": case["reference"], "risk_level": "high",
                                 "on_case": True, "initials": "N.", "outcome": None, "late": False}
    assert lines[other]["on_case"] is False and lines[other]["initials"] is None  # the agenda line alone
    assert (await hou.get(f"{url}/research")).status_code == 404  # housing was not invited
    page = await doc.get(f"/conferences/{conference['id']}/research")
    assert "Ana" not in page.text and "not part of this case" in page.text
    async with sessionmaker() as session:
        audited = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "conference.agenda_circulated"))).scalar_one()
    assert audited == 1


async def test_the_chair_circulates_from_the_page(client_for, people, case):
    chair = await client_for("chair")
    conference = await schedule(chair, people, [case["id"]])
    page = await chair.get(f"/conferences/{conference['id']}/research")
    assert "Circulate the agenda" in page.text and "Awaiting" in page.text
    sent = await chair.post(f"/conferences/{conference['id']}/circulate")
    assert sent.status_code == 200 and "Agenda circulated" in sent.text and "Circulate the agenda" not in sent.text


async def circulated(chair, people, case_ids: list[int]) -> str:
    conference = await schedule(chair, people, case_ids)
    url = f"/api/conferences/{conference['id']}"
    assert (await chair.post(f"{url}/agenda/circulate")).status_code == 200
    return url


async def record(client, url: str, case_id: int, category: str, text: str, sharing: str, **fields) -> dict:
    response = await client.post(f"{url}/research/{case_id}/items", json={
        "category": category, "nature": "fact", "text": text, "sharing": sharing, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def submit(client, url: str, case_id: int, outcome: str, **fields) -> dict:
    response = await client.post(f"{url}/research/{case_id}", json={"outcome": outcome, **fields})
    assert response.status_code == 200, response.text
    return response.json()


def texts(items: list[dict]) -> list[str | None]:
    return [item["text"] for item in items]


async def disclosures_of(sessionmaker, item_id: int) -> list[int]:
    async with sessionmaker() as session:
        return sorted((await session.execute(select(Disclosure.viewer_id).where(Disclosure.item_id == item_id))).scalars())


async def test_three_agencies_return_and_the_held_item_unlocks_when_the_chair_opens_the_case(
        client_for, people, case, sessionmaker):
    chair, pc, sw, doc = [await client_for(name) for name in ("chair", "pc", "sw", "doc")]
    await grant_consent(chair, case["id"], ["health.injuries"], ["police", "social_work"])
    url = await circulated(chair, people, [case["id"]])
    items_url = f"/api/cases/{case['id']}/items"

    # Health's draft: its own until submitted; nobody else sees even a placeholder.
    draft = await record(doc, url, case["id"], "health.injuries", HELD, "meeting")
    held = draft["items"][0]
    assert draft["submitted_at"] is None and held["text"] == HELD and held["release"] == "draft"
    for other in (pc, sw, chair):
        assert held["id"] not in [i["id"] for i in (await other.get(items_url)).json()]
    assert (await pc.get(f"{url}/research/{case['id']}")).json()["items"] == []  # police's own return: empty
    readiness = (await chair.get(f"{url}/readiness")).json()["cases"][0]["agencies"]
    assert {r["agency"]: r["state"] for r in readiness} == {
        "health": "awaiting", "police": "awaiting", "social_work": "awaiting"}

    returned = await submit(doc, url, case["id"], "information")
    assert returned["outcome"] == "information" and returned["late"] is False
    await submit(pc, url, case["id"], "nothing_held")
    # Police's consent covers injuries, but health shares this one at the meeting: a placeholder until then.
    shown = next(i for i in (await pc.get(items_url)).json() if i["id"] == held["id"])
    assert shown["text"] is None and "at the meeting" in shown["withheld_reason"]

    async with sessionmaker() as session:  # the deadline passes before social work returns
        await session.execute(update(Conference).values(research_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
        await session.commit()
    readiness = (await chair.get(f"{url}/readiness")).json()["cases"][0]["agencies"]
    assert {r["agency"]: r["state"] for r in readiness} == {
        "health": "returned", "police": "nothing_held", "social_work": "overdue"}
    await record(sw, url, case["id"], "social_work.housing", "Temporary accommodation since June", "now")
    late = await submit(sw, url, case["id"], "information")
    assert late["late"] is True
    readiness = (await chair.get(f"{url}/readiness")).json()["cases"][0]["agencies"]
    assert {(r["agency"], r["state"], r["late"]) for r in readiness} == {
        ("health", "returned", False), ("police", "nothing_held", False), ("social_work", "returned", True)}
    assert (await pc.get(f"{url}/research")).json()["lines"][0]["outcome"] == "nothing_held"
    assert await disclosures_of(sessionmaker, held["id"]) == []

    # The chair opens the case (the first on the agenda) in the live conference.
    conference_id = int(url.rsplit("/", 1)[1])
    for client in (chair, pc, sw):
        assert (await client.post(f"{url}/statement")).status_code == 200
    started = await chair.post(f"{url}/start", json={"version": 1})
    assert started.status_code == 200, started.text
    for viewer in (pc, sw):
        items = (await viewer.get(f"/api/conferences/{conference_id}")).json()["items"]
        assert HELD in texts(items)
    assert await disclosures_of(sessionmaker, held["id"]) == sorted([people["police"].id, people["social_work"].id])
    async with sessionmaker() as session:  # the release is recorded, once (by ids only)
        released = (await session.execute(select(AuditEntry.detail).where(
            AuditEntry.action == "research.shared_at_meeting"))).scalars().all()
    assert released == [f'{{"items":[{held["id"]}]}}']


async def test_returns_refuse_bad_input_and_research_of_a_case_the_agency_is_not_on(client_for, people, case,
                                                                                   sessionmaker):
    chair, doc, hou = await client_for("chair"), await client_for("doc"), await client_for("hou")
    other = await adults_case(chair)  # health is not on it
    url = await circulated(chair, people, [case["id"], other])
    for path in (f"{url}/research/{other}", f"{url}/research/{other}/items"):
        answer = await (doc.get(path) if path.endswith(str(other)) else doc.post(path, json={
            "category": "health.injuries", "nature": "fact", "text": "x"}))
        assert answer.status_code == 404, answer.text
    assert (await hou.get(f"{url}/research/{case['id']}")).status_code == 404  # housing: not invited, not on it
    refused = {
        "not_researched without a reason": ({"outcome": "not_researched"}, "reason"),
        "information without items": ({"outcome": "information"}, "outcome"),
        "an unknown outcome": ({"outcome": "maybe"}, None),
    }
    for body, field in refused.values():
        answer = await doc.post(f"{url}/research/{case['id']}", json=body)
        assert answer.status_code == 400 and answer.json()["detail"], answer.text
        if field:
            assert answer.json()["field"] == field
    unreasoned = await doc.post(f"{url}/research/{case['id']}/items", json={
        "category": "health.injuries", "nature": "fact", "text": "x", "sharing": "not_shared"})
    assert unreasoned.status_code == 400 and unreasoned.json()["field"] == "not_shared_reason"
    reason = "the GP has not consented to share it"
    assert (await submit(doc, url, case["id"], "not_researched", reason=reason))["reason"] == reason
    again = await doc.post(f"{url}/research/{case['id']}", json={"outcome": "nothing_held"})
    assert again.status_code == 409
    async with sessionmaker() as session:  # a closed case takes no research
        await session.execute(update(Case).where(Case.id == other).values(closed_at=dt.datetime.now(dt.UTC)))
        await session.commit()
    pc = await client_for("pc")
    closed = await pc.post(f"{url}/research/{other}", json={"outcome": "nothing_held"})
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]


async def test_not_shared_items_are_a_ledger_for_the_agency_and_supervisors_only(client_for, people, case):
    chair, pc, doc, supervisor = [await client_for(n) for n in ("chair", "pc", "doc", "supervisor")]
    await grant_consent(chair, case["id"], ["health.attendances"], ["police"])
    url = await circulated(chair, people, [case["id"]])
    why = "third-party information from a relative"
    item = (await record(doc, url, case["id"], "health.attendances", KEPT_BACK, "not_shared",
                         not_shared_reason=why))["items"][0]
    await submit(doc, url, case["id"], "information")
    assert item["id"] not in [i["id"] for i in (await pc.get(f"/api/cases/{case['id']}/items")).json()]
    ledger = f"/api/cases/{case['id']}/not-shared"
    for reader in (doc, supervisor):
        entries = (await reader.get(ledger)).json()
        assert [(e["item_id"], e["agency"], e["reason"]) for e in entries] == [(item["id"], "health", why)]
        assert KEPT_BACK not in str(entries)
    assert (await pc.get(ledger)).json() == []


async def test_the_chair_sees_readiness_beside_each_case_and_no_one_else_does(client_for, people, case):
    chair, pc = await client_for("chair"), await client_for("pc")
    url = await circulated(chair, people, [case["id"]])
    await submit(pc, url, case["id"], "nothing_held")
    conference_page = url.removeprefix("/api")
    for client in (chair, pc):
        assert (await client.post(f"{url}/statement")).status_code == 200
    chair_page = (await chair.get(conference_page)).text
    assert 'class="agenda-readiness"' in chair_page and "readiness-nothing_held" in chair_page
    assert "readiness-awaiting" in chair_page  # health and social work have not returned
    assert "agenda-readiness" not in (await pc.get(conference_page)).text
    uncirculated = await schedule(chair, people, [case["id"]])  # no research asked for: nothing to show
    assert (await chair.post(f"/api/conferences/{uncirculated['id']}/statement")).status_code == 200
    assert "agenda-readiness" not in (await chair.get(f"/conferences/{uncirculated['id']}")).text
    assert (await pc.get(f"{url}/readiness")).status_code == 403
    research_page = (await chair.get(f"{conference_page}/research")).text
    assert 'id="readiness"' in research_page and "Nothing held" in research_page


async def test_apologies_send_the_research_and_a_named_person_and_the_minutes_list_who_was_there(
        client_for, people, case, sessionmaker):
    chair, pc, doc = await client_for("chair"), await client_for("pc"), await client_for("doc")
    url = await circulated(chair, people, [case["id"]])
    early = await doc.post(f"{url}/apologies", json={"actions_person_id": people["health"].id})
    assert early.status_code == 409 and case["reference"] in early.json()["detail"]
    await submit(doc, url, case["id"], "nothing_held")
    unnamed = await doc.post(f"{url}/apologies", json={})
    assert unnamed.status_code == 400 and unnamed.json()["field"] == "actions_person_id"
    elsewhere = await doc.post(f"{url}/apologies", json={"actions_person_id": people["police"].id})
    assert elsewhere.status_code == 400 and "not of your agency" in elsewhere.json()["detail"]
    sent = await doc.post(f"{url}/apologies", json={"actions_person_id": people["health"].id})
    assert sent.status_code == 200, sent.text

    for client in (chair, pc):
        assert (await client.post(f"{url}/statement")).status_code == 200
    async with sessionmaker() as session:  # police was in the room (its page connected)
        await session.execute(update(Participant).where(Participant.user_id == people["police"].id)
                              .values(joined_at=dt.datetime.now(dt.UTC)))
        await session.commit()
    assert (await chair.post(f"{url}/start", json={"version": 1})).status_code == 200
    assert (await chair.post(f"{url}/end", json={"version": 2})).status_code == 200
    minutes = (await chair.get(f"{url}/minutes")).json()
    assert minutes["apologies"] == [["health", "Doc", "Doc"]]
    assert minutes["attendees"] == [["police", ["Pc"]]]
    assert sorted(map(tuple, minutes["statement_accepted"])) == [("police", "Pc"), ("social_work", "Chair")]
    page = (await chair.get(url.removeprefix("/api") + "/minutes")).text
    assert "actions to Doc" in page and 'id="statement-accepted"' in page


async def test_an_agency_returns_its_research_from_the_page(client_for, people, case):
    chair, doc = await client_for("chair"), await client_for("doc")
    url = await circulated(chair, people, [case["id"]])
    page = url.removeprefix("/api") + "/research"
    refused = await doc.post(f"{page}/{case['id']}/items", data={
        "category": "health.injuries", "nature": "fact", "text": HELD, "sharing": "not_shared"})
    assert refused.status_code == 400 and "say why it is not shared" in refused.text
    drafted = await doc.post(f"{page}/{case['id']}/items", data={
        "category": "health.injuries", "nature": "fact", "text": HELD, "sharing": "meeting"})
    assert drafted.status_code == 200 and HELD in drafted.text and "draft: only your agency sees it" in drafted.text
    returned = await doc.post(f"{page}/{case['id']}", data={"outcome": "information"})
    assert returned.status_code == 200 and "Information recorded" in returned.text
    assert "Submit the return" not in returned.text


async def housing_tasks(client, case_id: int) -> dict[str, str | None]:
    tasks = (await client.get(f"/api/cases/{case_id}/tasks")).json()
    return {t["title"]: t["due_on"] for t in tasks if t["agency"] == "housing"}


async def test_listed_duties_fall_due_within_hours_of_the_referral_or_before_the_meeting(client_for, people):
    chair = await client_for("chair")
    referred = await chair.post("/api/cases", json={**REFERRAL, "agencies": ["police", "social_work", "housing"]})
    assert referred.status_code == 201, referred.text
    case = referred.json()
    tomorrow = (dt.datetime.fromisoformat(case["created_at"]) + dt.timedelta(hours=24)).date().isoformat()
    assert await housing_tasks(chair, case["id"]) == {
        "Assess the need for emergency accommodation": tomorrow,
        "Find family-sized accommodation near the children's school": None}  # no meeting to count from yet
    conference = await schedule(chair, people, [case["id"]])
    meeting_day = conference["scheduled_at"].date().isoformat()
    assert (await housing_tasks(chair, case["id"]))["Find family-sized accommodation near the children's school"] \
        == meeting_day
    # An agency joining a case already on an agenda gets its "before the meeting" duties dated at once.
    other = await chair.post("/api/cases", json={**REFERRAL, "agencies": ["police", "social_work"]})
    await schedule(chair, people, [other.json()["id"]])
    await consent_to_join(chair, other.json()["id"], "housing")
    joined = await chair.post(f"/api/cases/{other.json()['id']}/agencies", json={"agency": "housing"})
    assert joined.status_code in (200, 201), joined.text
    assert (await housing_tasks(chair, other.json()["id"]))[
        "Find family-sized accommodation near the children's school"] == meeting_day


async def test_the_built_in_agencies_date_what_their_lists_call_immediate_and_the_risk_meeting(client_for, people):
    chair = await client_for("chair")
    referred = await chair.post("/api/cases", json=REFERRAL)
    case = referred.json()
    tomorrow = (dt.datetime.fromisoformat(case["created_at"]) + dt.timedelta(hours=24)).date().isoformat()
    due = {(t["agency"], t["title"]): t["due_on"] for t in (await chair.get(f"/api/cases/{case['id']}/tasks")).json()}
    immediate = {key for key, on in due.items() if on == tomorrow}
    assert immediate == {
        ("social_work", "If there is an immediate or even likely risk to the safety of the client or any children, "
                        "consider contacting the police"),
        ("social_work", "Assist the victim in getting immediate crisis help and psychosocial support"),
        ("health", "If there is an immediate risk to safety of the patient or any children, consider contacting the police"),
    }
    ngos = ("police", "Make sure all relevant NGOs are invited to participate in the risk assessment process")
    assert due[ngos] is None  # no meeting yet
    conference = await schedule(chair, people, [case["id"]])
    dated = {(t["agency"], t["title"]): t["due_on"] for t in (await chair.get(f"/api/cases/{case['id']}/tasks")).json()}
    assert dated[ngos] == conference["scheduled_at"].date().isoformat()
    assert sum(on is not None for on in dated.values()) == len(immediate) + 1  # the lists give no other item a time
