"""Who may see and change what in a conference, through its pages and API (in-process). Each
test names the rule it holds; the live socket's side is in tests/live/test_live_access.py."""

import pytest
from sqlalchemy import func, select, update

from coordinator.models import Participant, Task
from tests.conference_scenario import CALL_OUTS, CASE_C_NOTE, CASE_C_SUMMARY, INJURIES

pytestmark = pytest.mark.usefixtures("live_channels")


async def api_state(client, conference_id: int) -> dict:
    response = await client.get(f"/api/conferences/{conference_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def move_to(chair, scenario, case_id: int) -> dict:
    url = f"/api/conferences/{scenario.conference_id}"
    state = (await api_state(chair, scenario.conference_id))["conference"]
    item = next(e["id"] for e in state["agenda"] if e["case_id"] == case_id)
    moved = await chair.post(f"{url}/move", json={"item_id": item, "version": state["version"]})
    assert moved.status_code == 200, moved.text
    return moved.json()


async def end(chair, scenario) -> None:
    state = (await api_state(chair, scenario.conference_id))["conference"]
    ended = await chair.post(f"/api/conferences/{scenario.conference_id}/end", json={"version": state["version"]})
    assert ended.status_code == 200, ended.text


HTMX = {"hx-request": "true"}


async def test_a_refused_htmx_change_answers_with_the_error_only(client_for, scenario):
    """Finding 1: a change refused as "not invited" or "statement not accepted" renders no state."""
    for name in ("outsider", "late"):
        person = await client_for(name)
        refused = await person.post(f"/conferences/{scenario.conference_id}/changes/note", headers=HTMX,
                                    data={"case_id": scenario.case_a, "kind": "note", "text": "x"})
        assert refused.status_code in (403, 404)
        assert 'id="conference-notice"' in refused.text
        for secret in ("Nora", "Ella", CALL_OUTS, INJURIES, "Nora and Ella left", "conference-case", "hx-swap-oob"):
            assert secret not in refused.text


async def test_a_409_on_the_page_shows_what_won_through_the_gate(client_for, scenario):
    chair, police = await client_for("chair"), await client_for("pc")
    state = (await api_state(chair, scenario.conference_id))["conference"]
    stale = await police.post(f"/conferences/{scenario.conference_id}/changes/volunteer", headers=HTMX, data={
        "case_id": scenario.case_a, "responsibility": "perpetrator_management", "version": "3"})
    assert stale.status_code == 409 and 'hx-swap-oob="true"' in stale.text
    assert "conference-roles" in stale.text and state["title"]  # the current role map, for police's audience
    assert "Reassign" not in stale.text  # police is not the chair: no chair controls


async def test_an_agency_not_on_a_case_sees_only_its_agenda_line(client_for, scenario):
    """Finding 3: health is invited but not part of case C."""
    chair, health = await client_for("chair"), await client_for("doc")
    await move_to(chair, scenario, scenario.case_c)
    body = await api_state(health, scenario.conference_id)
    assert body["case_visible"] is False and body["items"] == []
    assert body["conference"]["case"] is None and body["conference"]["roles"] is None
    assert body["conference"]["actions"] is None and body["conference"]["notes"] is None
    assert body["conference"]["current_case_line"]["risk_level"] == "standard"
    page = (await health.get(f"/conferences/{scenario.conference_id}")).text
    assert "Your agency is not part of this case" in page
    for secret in (CASE_C_SUMMARY, CASE_C_NOTE, "Cara"):
        assert secret not in page and secret not in str(body)
    social_work = await api_state(await client_for("sw"), scenario.conference_id)  # on the case: sees it
    assert social_work["conference"]["case"]["summary"] == CASE_C_SUMMARY
    assert CASE_C_NOTE in [i["text"] for i in social_work["items"]]


async def test_an_agency_not_on_a_case_cannot_take_its_roles_or_actions(client_for, scenario):
    chair, health = await client_for("chair"), await client_for("doc")
    await move_to(chair, scenario, scenario.case_c)
    url = f"/api/conferences/{scenario.conference_id}"
    volunteered = await health.post(f"{url}/roles/volunteer", json={
        "case_id": scenario.case_c, "responsibility": "health_follow_up", "version": 0})
    assert volunteered.status_code == 403 and "not part of case" in volunteered.json()["detail"]
    added = await health.post(f"{url}/actions", json={"case_id": scenario.case_c, "agency": "health", "title": "x",
                                                      "domain": "victim", "due_on": "2026-12-08"})
    assert added.status_code == 403
    assigned = await chair.post(f"{url}/roles", json={"case_id": scenario.case_c, "responsibility": "health_follow_up",
                                                      "agency": "health", "version": 0})
    assert assigned.status_code == 400 and assigned.json()["field"] == "agency"


async def test_minutes_show_a_case_the_reader_is_not_part_of_as_its_line_only(client_for, scenario):
    chair, health = await client_for("chair"), await client_for("doc")
    url = f"/api/conferences/{scenario.conference_id}"
    for case_id in (scenario.case_b, scenario.case_c):
        state = await move_to(chair, scenario, case_id)
    await chair.post(f"{url}/notes", json={"case_id": scenario.case_c, "kind": "decision", "text": "Cara's refuge stays"})
    await end(chair, scenario)
    for path in ("/minutes", "/minutes.html", "/minutes.md"):
        text = (await health.get(f"/conferences/{scenario.conference_id}{path}")).text
        assert "Your agency is not part of this case" in text
        assert CASE_C_NOTE not in text and "Cara's refuge stays" not in text
    api = (await health.get(f"{url}/minutes")).json()
    case_c = next(c for c in api["cases"] if c["member"] is False)
    assert case_c["information"] == [] and case_c["decisions"] == []
    assert state  # the chair's own view of case C held its notes
    chair_md = (await chair.get(f"/conferences/{scenario.conference_id}/minutes.md")).text
    assert "Cara&#39;s refuge stays" in chair_md or "Cara's refuge stays" in chair_md


async def test_minutes_need_the_confidentiality_statement(client_for, scenario):
    """Finding 6."""
    chair, late = await client_for("chair"), await client_for("late")
    await end(chair, scenario)
    for path in ("/minutes", "/minutes.html", "/minutes.md"):
        refused = await late.get(f"/conferences/{scenario.conference_id}{path}")
        assert refused.status_code == 403 and INJURIES not in refused.text
    assert (await late.get(f"/api/conferences/{scenario.conference_id}/minutes")).status_code == 403
    outsider = await client_for("outsider")
    assert (await outsider.get(f"/api/conferences/{scenario.conference_id}/minutes")).status_code == 404


async def test_markdown_minutes_carry_no_raw_html(client_for, scenario):
    chair = await client_for("chair")
    await chair.post(f"/api/conferences/{scenario.conference_id}/notes", json={
        "case_id": scenario.case_a, "kind": "decision", "text": "<script>alert(1)</script> <b>bold</b>"})
    await end(chair, scenario)
    markdown = (await chair.get(f"/conferences/{scenario.conference_id}/minutes.md")).text
    assert "<script>" not in markdown and "<b>" not in markdown and "&lt;script&gt;" in markdown


async def test_a_task_on_a_case_outside_the_agency_is_answered_as_missing(client_for, scenario, sessionmaker):
    """Finding 7: no existence oracle, and the htmx error row renders nothing of the task."""
    async with sessionmaker() as session:
        task_id = (await session.execute(select(Task.id).where(Task.case_id == scenario.case_c)
                                         .order_by(Task.id).limit(1))).scalar_one()
        missing = (await session.execute(select(func.max(Task.id)))).scalar_one() + 1000
    health = await client_for("doc")  # health is not part of case C
    for tid in (task_id, missing):
        patched = await health.patch(f"/api/tasks/{tid}", json={"status": "done", "version": 1})
        assert patched.status_code == 404 and patched.json()["detail"] == f"no task {tid}"
        row = await health.post(f"/tasks/{tid}/status", headers=HTMX, data={"status": "done", "version": "1"})
        assert row.status_code == 404 and "task-title" not in row.text
    police = await client_for("pc")
    assert (await police.get(f"/api/tasks/{task_id}")).status_code == 200


async def test_only_the_owner_or_the_chair_confirms_an_action(client_for, scenario):
    chair, health = await client_for("chair"), await client_for("doc")
    url = f"/api/conferences/{scenario.conference_id}"
    added = await chair.post(f"{url}/actions", json={"case_id": scenario.case_a, "agency": "police", "title": "Visit",
                                                     "domain": "victim", "due_on": "2026-12-08"})
    action = added.json()["actions"][0]
    refused = await health.post(f"{url}/actions/confirm", json={"task_id": action["id"], "version": action["version"]})
    assert refused.status_code == 403 and "Police" in refused.json()["detail"]
    changed = await health.post(f"{url}/actions/status", json={"task_id": action["id"], "status": "done",
                                                                "version": action["version"]})
    assert changed.status_code == 403


async def test_the_case_cannot_be_left_or_the_meeting_ended_with_unconfirmed_actions(client_for, scenario):
    chair = await client_for("chair")
    url = f"/api/conferences/{scenario.conference_id}"
    await chair.post(f"{url}/actions", json={"case_id": scenario.case_a, "agency": "police", "title": "Visit",
                                             "domain": "victim", "due_on": "2026-12-08"})
    state = (await api_state(chair, scenario.conference_id))["conference"]
    refused = await chair.post(f"{url}/end", json={"version": state["version"]})
    assert refused.status_code == 409 and "waiting for Police" in refused.json()["detail"]
    assert (await api_state(chair, scenario.conference_id))["conference"]["status"] == "live"


async def test_a_member_cannot_invite_people_or_reorder_the_agenda(client_for, scenario):
    police = await client_for("pc")
    url = f"/api/conferences/{scenario.conference_id}"
    invited = await police.post(f"{url}/participants", json={"user_id": scenario.users["outsider"]})
    assert invited.status_code == 403
    state = (await api_state(police, scenario.conference_id))["conference"]
    order = [e["id"] for e in state["agenda"]][::-1]
    assert (await police.put(f"{url}/agenda", json={"order": order, "version": state["version"]})).status_code == 403


async def test_nobody_volunteers_over_a_confirmed_role(client_for, scenario):
    chair, health = await client_for("chair"), await client_for("doc")
    url = f"/api/conferences/{scenario.conference_id}"
    await chair.post(f"{url}/roles", json={"case_id": scenario.case_a, "responsibility": "victim_contact",
                                           "agency": "police", "version": 0})
    over = await health.post(f"{url}/roles/volunteer", json={"case_id": scenario.case_a,
                                                             "responsibility": "victim_contact", "version": 1})
    assert over.status_code == 409 and "already held by Police" in over.json()["detail"]


async def test_actions_of_a_case_not_on_the_agenda_cannot_be_changed(client_for, scenario, sessionmaker):
    chair = await client_for("chair")
    me = (await chair.get("/api/me")).json()
    other = await chair.post("/api/conferences", json={"title": "Other", "scheduled_at": "2027-01-05T10:00:00Z",
                                                       "chair_id": me["id"], "case_ids": [scenario.case_b]})
    other_id = other.json()["id"]
    await chair.post(f"/api/conferences/{other_id}/statement")
    await chair.post(f"/api/conferences/{other_id}/start", json={"version": 1})
    added = await chair.post(f"/api/conferences/{other_id}/actions", json={
        "case_id": scenario.case_b, "agency": "police", "title": "Other meeting's action", "domain": "victim",
        "due_on": "2026-12-08"})
    action = added.json()["actions"][0]
    async with sessionmaker() as session:  # case B leaves the first conference's agenda for this check
        from coordinator.models import AgendaItem
        await session.execute(AgendaItem.__table__.delete().where(
            AgendaItem.conference_id == scenario.conference_id, AgendaItem.case_id == scenario.case_b))
        await session.commit()
    changed = await chair.post(f"/api/conferences/{scenario.conference_id}/actions/status", json={
        "task_id": action["id"], "status": "done", "version": action["version"]})
    assert changed.status_code == 404


async def test_a_chair_role_is_for_coordinators_only(client_for, scenario):
    chair = await client_for("chair")
    invited = await chair.post(f"/api/conferences/{scenario.conference_id}/participants",
                               json={"user_id": scenario.users["outsider"], "role": "coordinator"})
    assert invited.status_code == 400 and invited.json()["field"] == "role"


async def test_opening_the_page_discloses_nothing_until_the_socket_sends_the_items(client_for, scenario,
                                                                                    sessionmaker):
    """Finding 9: the page itself shows no items, so a page and its socket disclose once."""
    from coordinator.models import Disclosure
    social_work = await client_for("sw")
    page = await social_work.get(f"/conferences/{scenario.conference_id}")
    assert page.status_code == 200 and "Loading the case" in page.text and CALL_OUTS not in page.text
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(Disclosure))).scalar_one() == 0


async def test_statement_accepted_twice_at_once_is_recorded_once(client_for, scenario, sessionmaker):
    late = await client_for("late")
    async with sessionmaker() as session:
        await session.execute(update(Participant).where(Participant.user_id == scenario.users["late"])
                              .values(statement_accepted_at=None))
        await session.commit()
    for _ in range(2):
        assert (await late.post(f"/api/conferences/{scenario.conference_id}/statement")).status_code == 200


async def test_a_json_change_answer_records_no_disclosure_it_does_not_show(client_for, scenario, sessionmaker):
    """The JSON answer to a change carries the conference state, not the items: no sighting is
    recorded for items nobody was shown (the chair, of social work, sees police's call-outs)."""
    from coordinator.models import Disclosure
    chair = await client_for("chair")
    state = (await api_state(chair, scenario.conference_id))["conference"]
    async with sessionmaker() as session:
        before = (await session.execute(select(func.count()).select_from(Disclosure))).scalar_one()
    pending = next(e["id"] for e in state["agenda"] if e["case_id"] == scenario.case_c)  # shared with social work
    stale = await chair.post(f"/api/conferences/{scenario.conference_id}/move",
                             json={"item_id": pending, "version": state["version"] + 5})
    assert stale.status_code == 409 and stale.json()["current"]["case"]["reference"]
    moved = await chair.post(f"/api/conferences/{scenario.conference_id}/move",
                             json={"item_id": pending, "version": state["version"]})
    assert moved.status_code == 200
    async with sessionmaker() as session:
        after = (await session.execute(select(func.count()).select_from(Disclosure))).scalar_one()
    assert after == before
