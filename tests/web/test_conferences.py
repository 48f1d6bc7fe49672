"""The conference through its pages and API (in-process): agenda, statement, roles, actions,
notes, the end and the minutes. The live websocket is tested against real servers in tests/live."""

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from coordinator.models import AgendaItem, AuditEntry, Case, ConferenceNote, RoleAssignment
from tests.conference_scenario import ARREARS, CALL_OUTS, INJURIES, build_conference

pytestmark = pytest.mark.usefixtures("live_channels")


async def state_of(client, conference_id: int) -> dict:
    response = await client.get(f"/api/conferences/{conference_id}")
    assert response.status_code == 200, response.text
    return response.json()["conference"]


def role(state: dict, key: str) -> dict:
    return next(r for r in state["roles"] if r["key"] == key)


async def referral(client, *, children: bool, score: int = 15, incidents: int = 0) -> int:
    people = [{"role": "survivor", "name": "S"}] + ([{"role": "child", "name": "C"}] if children else [])
    response = await client.post("/api/cases", json={
        "kind": "domestic_abuse", "people": people, "checklist_score": score, "incidents_last_12_months": incidents,
        "agencies": ["police", "social_work", "health"]})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_agenda_orders_children_then_adults_then_reviews_by_risk_and_can_be_reordered(
        client_for, people, sessionmaker):
    chair = await client_for("chair")
    adults_high = await referral(chair, children=False)
    children_standard = await referral(chair, children=True, score=5, incidents=3)
    children_high = await referral(chair, children=True)
    review = await referral(chair, children=True)
    async with sessionmaker() as session:  # opened 13 months ago: its 12-month review is due
        await session.execute(update(Case).where(Case.id == review)
                              .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=400)))
        await session.commit()
    scheduled = await chair.post("/api/conferences", json={
        "title": "MARAC", "scheduled_at": "2027-01-05T10:00:00Z", "chair_id": people["chair"].id,
        "case_ids": [review, adults_high, children_standard, children_high]})
    assert scheduled.status_code == 201, scheduled.text
    state = scheduled.json()
    agenda = state["agenda"]
    assert [e["case_id"] for e in agenda] == [children_high, children_standard, adults_high, review]
    assert [e["group"] for e in agenda] == ["children", "children", "adults", "review"]

    by_hand = [agenda[2]["id"], agenda[0]["id"], agenda[1]["id"], agenda[3]["id"]]
    reordered = await chair.put(f"/api/conferences/{state['id']}/agenda", json={"order": by_hand, "version": 1},
                                headers={"x-csrftoken": chair.cookies["csrftoken"]})
    assert reordered.status_code == 200, reordered.text
    assert [e["id"] for e in reordered.json()["agenda"]] == by_hand
    stale = await chair.put(f"/api/conferences/{state['id']}/agenda", json={"order": by_hand[::-1], "version": 1},
                            headers={"x-csrftoken": chair.cookies["csrftoken"]})
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["detail"]
    assert [e["id"] for e in stale.json()["current"]["agenda"]] == by_hand


async def test_nothing_of_a_case_is_shown_before_the_statement_is_accepted_once(
        client_for, sessionmaker, registry):
    scenario = await build_conference(sessionmaker, registry)
    late = await client_for("late")
    page = await late.get(f"/conferences/{scenario.conference_id}")
    assert "Confidentiality statement" in page.text and "Nora" not in page.text
    assert (await late.get(f"/api/conferences/{scenario.conference_id}")).status_code == 403
    for _ in range(2):
        accepted = await late.post(f"/conferences/{scenario.conference_id}/statement")
        assert accepted.status_code == 200  # redirected to the live page
    assert "Nora" in accepted.text  # the case under discussion; its items come by websocket
    items = (await late.get(f"/api/conferences/{scenario.conference_id}")).json()["items"]
    assert INJURIES in [item["text"] for item in items]  # health's own item
    async with sessionmaker() as session:
        recorded = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "conference.statement_accepted", AuditEntry.actor_id == scenario.users["late"]
        ))).scalar_one()
    assert recorded == 1


async def test_each_agency_sees_the_current_case_as_consent_allows(client_for, scenario):
    police, health = await client_for("pc"), await client_for("doc")
    police_view = (await police.get(f"/api/conferences/{scenario.conference_id}")).text
    health_view = (await health.get(f"/api/conferences/{scenario.conference_id}")).text
    assert CALL_OUTS in police_view and INJURIES not in police_view and '"withheld":true' in police_view
    assert INJURIES in health_view and CALL_OUTS not in health_view and "Call-outs to the address" in health_view


async def test_uninvited_people_cannot_open_the_conference(client_for, scenario):
    outsider = await client_for("outsider")
    # Not invited: the conference does not exist for them, exactly as a missing one.
    assert (await outsider.get(f"/conferences/{scenario.conference_id}")).status_code == 404
    assert (await outsider.get(f"/api/conferences/{scenario.conference_id}")).status_code == 404
    assert (await outsider.get("/api/conferences/99999")).json()["detail"] == "no conference 99999"


async def test_roles_keep_their_history_and_offers_need_the_chair(client_for, scenario, sessionmaker):
    chair, health = await client_for("chair"), await client_for("doc")
    url = f"/api/conferences/{scenario.conference_id}"
    first = await chair.post(f"{url}/roles", json={"case_id": scenario.case_a, "responsibility": "safety_planning",
                                                   "agency": "police", "version": 0})
    assert first.status_code == 200, first.text
    again = await chair.post(f"{url}/roles", json={"case_id": scenario.case_a, "responsibility": "safety_planning",
                                                   "agency": "social_work", "version": 1})
    assert role(again.json(), "safety_planning")["agency"] == "social_work"
    cannot = await chair.post(f"{url}/roles", json={"case_id": scenario.case_a, "responsibility": "child_protection",
                                                    "agency": "health", "version": 0})
    assert cannot.status_code == 400 and cannot.json()["field"] == "agency"

    offer = await health.post(f"{url}/roles/volunteer", json={"case_id": scenario.case_a,
                                                              "responsibility": "health_follow_up", "version": 0})
    assert role(offer.json(), "health_follow_up")["status"] == "proposed"
    not_chair = await health.post(f"{url}/roles/confirm", json={"case_id": scenario.case_a,
                                                                "responsibility": "health_follow_up", "version": 1})
    assert not_chair.status_code == 403
    confirmed = await chair.post(f"{url}/roles/confirm", json={"case_id": scenario.case_a,
                                                               "responsibility": "health_follow_up", "version": 1})
    assert role(confirmed.json(), "health_follow_up")["status"] == "confirmed"
    async with sessionmaker() as session:
        history = (await session.execute(select(RoleAssignment.agency, RoleAssignment.ended_at).where(
            RoleAssignment.responsibility == "safety_planning").order_by(RoleAssignment.id))).all()
    assert [agency for agency, _ in history] == ["police", "social_work"]
    assert history[0].ended_at is not None and history[1].ended_at is None


async def test_actions_are_agency_tasks_and_each_agency_confirms_before_the_case_closes(client_for, scenario):
    chair, police, health = await client_for("chair"), await client_for("pc"), await client_for("doc")
    url = f"/api/conferences/{scenario.conference_id}"
    added = await chair.post(f"{url}/actions", json={"case_id": scenario.case_a, "agency": "police",
                                                     "title": "Flag the address for urgent response",
                                                     "domain": "victim", "due_on": "2026-12-08"})
    assert added.status_code == 200, added.text
    action = added.json()["actions"][0]
    police_tasks = (await police.get("/api/dashboard")).json()["tasks"]
    assert any(t["id"] == action["id"] and t["source"] == "conference" for t in police_tasks)

    not_theirs = await health.post(f"{url}/actions/status", json={"task_id": action["id"], "status": "done",
                                                                  "version": action["version"]})
    assert not_theirs.status_code == 403
    for_other = await health.post(f"{url}/actions", json={"case_id": scenario.case_a, "agency": "police",
                                                          "title": "x", "domain": "victim", "due_on": "2026-12-08"})
    assert for_other.status_code == 403
    undated = await health.post(f"{url}/actions", json={"case_id": scenario.case_a, "agency": "health",
                                                        "title": "Follow up", "domain": "victim"})
    assert undated.status_code == 400 and undated.json()["field"] == "due_on"

    state = await state_of(chair, scenario.conference_id)
    next_item = next(e["id"] for e in state["agenda"] if e["status"] == "pending")
    blocked = await chair.post(f"{url}/move", json={"item_id": next_item, "version": state["version"]})
    assert blocked.status_code == 409 and "waiting for Police" in blocked.json()["detail"]
    confirmed = await police.post(f"{url}/actions/confirm", json={"task_id": action["id"], "version": action["version"]})
    assert confirmed.json()["actions"][0]["confirmed"] is True
    moved = await chair.post(f"{url}/move", json={"item_id": next_item, "version": state["version"]})
    assert moved.status_code == 200 and moved.json()["current_case_id"] == scenario.case_b


async def test_incomplete_actions_of_an_earlier_conference_come_back_on_the_agenda(client_for, scenario):
    chair = await client_for("chair")
    url = f"/api/conferences/{scenario.conference_id}"
    added = (await chair.post(f"{url}/actions", json={"case_id": scenario.case_a, "agency": "health",
                                                      "title": "Book a follow-up appointment", "domain": "victim",
                                                      "due_on": "2026-12-08"})).json()
    action = added["actions"][0]
    await chair.post(f"{url}/actions/confirm", json={"task_id": action["id"], "version": action["version"]})
    state = await state_of(chair, scenario.conference_id)
    ended = await chair.post(f"{url}/end", json={"version": state["version"]})
    assert ended.status_code == 200 and ended.json()["status"] == "ended"

    me = (await chair.get("/api/me")).json()
    later = await chair.post("/api/conferences", json={"title": "Next MARAC", "scheduled_at": "2027-01-05T10:00:00Z",
                                                       "chair_id": me["id"], "case_ids": [scenario.case_a]})
    later_id = later.json()["id"]
    assert later.json()["agenda"][0]["carried_over"] == 1
    await chair.post(f"/api/conferences/{later_id}/statement")
    started = await chair.post(f"/api/conferences/{later_id}/start", json={"version": 1})
    carried = started.json()["actions"]
    assert [(a["title"], a["carried_over"]) for a in carried] == [("Book a follow-up appointment", True)]


async def test_notes_only_by_the_chair_or_minute_taker(client_for, scenario):
    chair, police = await client_for("chair"), await client_for("pc")
    url = f"/api/conferences/{scenario.conference_id}/notes"
    note = {"case_id": scenario.case_a, "kind": "decision", "text": "Refer to the perpetrator programme"}
    assert (await police.post(url, json=note)).status_code == 403
    recorded = await chair.post(url, json=note)
    assert recorded.json()["notes"][0]["text"] == "Refer to the perpetrator programme"
    empty = await chair.post(url, json={**note, "text": "  "})
    assert empty.status_code == 400 and empty.json()["field"] == "text"


async def test_minutes_at_the_end_are_filtered_for_each_agency(client_for, scenario):
    chair, police, health = await client_for("chair"), await client_for("pc"), await client_for("doc")
    url = f"/api/conferences/{scenario.conference_id}"
    assert (await police.get(f"/conferences/{scenario.conference_id}/minutes.md")).status_code == 409
    await chair.post(f"{url}/roles", json={"case_id": scenario.case_a, "responsibility": "perpetrator_management",
                                           "agency": "police", "version": 0})
    await chair.post(f"{url}/notes", json={"case_id": scenario.case_a, "kind": "decision",
                                           "text": "Apply for a protection order"})
    state = await state_of(chair, scenario.conference_id)
    assert (await chair.post(f"{url}/end", json={"version": state["version"]})).status_code == 200

    police_md = await police.get(f"/conferences/{scenario.conference_id}/minutes.md")
    assert police_md.status_code == 200 and "attachment" in police_md.headers["content-disposition"]
    health_html = await health.get(f"/conferences/{scenario.conference_id}/minutes.html")
    assert health_html.status_code == 200
    assert CALL_OUTS in police_md.text and INJURIES not in police_md.text
    assert INJURIES in health_html.text and CALL_OUTS not in health_html.text
    assert "Call-outs to the address (Police): withheld" in health_html.text
    for text in (police_md.text, health_html.text):
        assert "Perpetrator management: Police" in text and "Apply for a protection order" in text
        assert "Late" in text  # invited, never came: listed as absent
    assert ARREARS not in police_md.text  # case B was never discussed


async def test_minutes_are_the_record_as_it_stood_when_the_meeting_ended(client_for, scenario):
    """A correction made after the meeting is not in its minutes (the version then current is)."""
    chair, police = await client_for("chair"), await client_for("pc")
    state = await state_of(chair, scenario.conference_id)
    assert (await chair.post(f"/api/conferences/{scenario.conference_id}/end",
                             json={"version": state["version"]})).status_code == 200
    items = (await police.get(f"/api/cases/{scenario.case_a}/items")).json()
    call_outs = next(i for i in items if i["text"] == CALL_OUTS)
    corrected = await police.post(f"/api/cases/{scenario.case_a}/items/{call_outs['id']}/corrections",
                                  json={"text": "Four call-outs to the address in May"})
    assert corrected.status_code in (200, 201), corrected.text
    for path in ("minutes.md", "minutes.html"):
        minutes = (await police.get(f"/conferences/{scenario.conference_id}/{path}")).text
        assert CALL_OUTS in minutes and "Four call-outs" not in minutes


async def test_the_chair_names_a_person_for_a_role_and_an_action_on_the_page(client_for, scenario):
    chair = await client_for("chair")
    page = (await chair.get(f"/conferences/{scenario.conference_id}")).text
    officer = scenario.users["pc"]
    assert f'<option value="{officer}">Pc</option>' in page  # police's people, offered by name
    url = f"/conferences/{scenario.conference_id}/changes"
    htmx = {"hx-request": "true"}
    state = await state_of(chair, scenario.conference_id)
    assigned = await chair.post(f"{url}/assign-role", headers=htmx, data={
        "case_id": str(state["current_case_id"]), "responsibility": "perpetrator_management", "agency": "police",
        "version": "0", "person_id": str(officer)})
    assert assigned.status_code == 200, assigned.text
    added = await chair.post(f"{url}/add-action", headers=htmx, data={
        "case_id": str(state["current_case_id"]), "agency": "police", "domain": "perpetrator",
        "title": "Serve the order", "due_on": "2030-01-10", "assignee_id": str(officer)})
    assert added.status_code == 200, added.text
    state = await state_of(chair, scenario.conference_id)
    assert role(state, "perpetrator_management")["person"] == "Pc"
    assert [a["assignee"] for a in state["actions"] if a["title"] == "Serve the order"] == ["Pc"]
    wrong = await chair.post(f"{url}/add-action", headers=htmx, data={
        "case_id": str(state["current_case_id"]), "agency": "health", "domain": "victim",
        "title": "Book a check-up", "due_on": "2030-01-10", "assignee_id": str(officer)})
    assert wrong.status_code == 400 and "assignee" in wrong.text


async def test_the_time_box_counts_from_when_the_meeting_moved_to_the_case(client_for, scenario, sessionmaker):
    chair = await client_for("chair")
    async with sessionmaker() as session:
        first = (await session.execute(select(AgendaItem).where(
            AgendaItem.conference_id == scenario.conference_id, AgendaItem.status == "current"))).scalar_one()
    page = (await chair.get(f"/conferences/{scenario.conference_id}")).text
    assert f'data-started="{first.started_at.isoformat()}"' in page and 'data-minutes="15"' in page
    state = await state_of(chair, scenario.conference_id)
    following = next(e for e in state["agenda"] if e["status"] == "pending")
    moved = await chair.post(f"/api/conferences/{scenario.conference_id}/move",
                             json={"item_id": following["id"], "version": state["version"]})
    assert moved.status_code == 200, moved.text
    now = next(e for e in (await state_of(chair, scenario.conference_id))["agenda"] if e["status"] == "current")
    assert now["started_at"] is not None and now["started_at"] >= first.started_at.isoformat()[:19]


async def test_a_decision_is_corrected_as_a_new_version_and_the_minutes_say_so(client_for, scenario, sessionmaker):
    chair, police = await client_for("chair"), await client_for("pc")
    url = f"/api/conferences/{scenario.conference_id}"
    state = await state_of(chair, scenario.conference_id)
    recorded = await chair.post(f"{url}/notes", json={"case_id": state["current_case_id"], "kind": "decision",
                                                      "text": "Refer to MARAC in 6 weeks"})
    assert recorded.status_code == 200, recorded.text
    notes = (await state_of(chair, scenario.conference_id))["notes"]
    [first] = [n for n in notes if n["text"] == "Refer to MARAC in 6 weeks"]
    refused = await police.post(f"{url}/notes/corrections", json={"note_id": first["id"], "text": "x"})
    assert refused.status_code == 403
    corrected = await chair.post(f"{url}/notes/corrections", json={"note_id": first["id"],
                                                                   "text": "Refer to MARAC in 4 weeks"})
    assert corrected.status_code == 200, corrected.text
    notes = (await state_of(chair, scenario.conference_id))["notes"]
    assert [n["text"] for n in notes if n["kind"] == "decision"] == ["Refer to MARAC in 4 weeks"]
    again = await chair.post(f"{url}/notes/corrections", json={"note_id": first["id"], "text": "6 weeks after all"})
    assert again.status_code == 409 and again.json()["field"] == "note_id"  # only the newest version is corrected

    state = await state_of(chair, scenario.conference_id)
    ended = await chair.post(f"{url}/end", json={"version": state["version"]})
    assert ended.status_code == 200, ended.text
    [newest] = [n for n in notes if n["text"] == "Refer to MARAC in 4 weeks"]
    late = await chair.post(f"{url}/notes/corrections", json={"note_id": newest["id"], "text": "Refer in 3 weeks"})
    assert late.status_code == 200, late.text
    minutes = (await chair.get(f"/conferences/{scenario.conference_id}/minutes.md")).text
    assert "Refer to MARAC in 4 weeks (corrected during the meeting)" in minutes
    assert "### Addenda" in minutes and "Refer in 3 weeks" in minutes
    assert "Refer to MARAC in 6 weeks" not in minutes
    async with sessionmaker() as session:
        versions = (await session.execute(select(func.count()).select_from(ConferenceNote))).scalar()
    assert versions == 3  # never a silent edit: every version is kept
