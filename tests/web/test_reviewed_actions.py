"""The minutes list every action reviewed in the meeting: those agreed in it and those of earlier
meetings still incomplete when it started, with what the meeting made of them, including an
action it decided not to take."""

from __future__ import annotations

import pytest

from tests.web.test_conferences import state_of

pytestmark = pytest.mark.usefixtures("live_channels")

DUE = "2026-12-08"


async def add_action(chair, conference_id: int, case_id: int, title: str) -> dict:
    added = await chair.post(f"/api/conferences/{conference_id}/actions", json={
        "case_id": case_id, "agency": "health", "title": title, "domain": "victim", "due_on": DUE})
    assert added.status_code == 200, added.text
    action = next(a for a in added.json()["actions"] if a["title"] == title)
    confirmed = await chair.post(f"/api/conferences/{conference_id}/actions/confirm",
                                 json={"task_id": action["id"], "version": action["version"]})
    assert confirmed.status_code == 200, confirmed.text
    return next(a for a in confirmed.json()["actions"] if a["id"] == action["id"])


async def end(chair, conference_id: int) -> None:
    state = await state_of(chair, conference_id)
    ended = await chair.post(f"/api/conferences/{conference_id}/end", json={"version": state["version"]})
    assert ended.status_code == 200, ended.text


async def test_the_minutes_list_earlier_actions_reviewed_in_the_meeting_and_actions_not_taken(
        client_for, scenario):
    chair = await client_for("chair")
    first = scenario.conference_id
    set_aside = await add_action(chair, first, scenario.case_a, "Book a follow-up appointment")
    dropped = await add_action(chair, first, scenario.case_a, "Arrange a home visit")
    finished = await add_action(chair, first, scenario.case_a, "Send the discharge letter")
    await end(chair, first)
    done = await chair.patch(f"/api/tasks/{finished['id']}", json={"status": "done", "version": finished["version"]})
    assert done.status_code == 200, done.text  # done before the next meeting: not reviewed in it

    me = (await chair.get("/api/me")).json()
    later = (await chair.post("/api/conferences", json={
        "title": "Next MARAC", "scheduled_at": "2027-01-05T10:00:00Z", "chair_id": me["id"],
        "case_ids": [scenario.case_a]})).json()["id"]
    await chair.post(f"/api/conferences/{later}/statement")
    assert (await chair.post(f"/api/conferences/{later}/start", json={"version": 1})).status_code == 200
    url = f"/api/conferences/{later}/actions/status"
    unexplained = await chair.post(url, json={"task_id": dropped["id"], "status": "not_taken",
                                              "version": dropped["version"]})
    assert unexplained.status_code == 400 and unexplained.json()["field"] == "reason"
    for action, status in ((set_aside, "not_applicable"), (dropped, "not_taken")):
        changed = await chair.post(url, json={"task_id": action["id"], "status": status, "version": action["version"],
                                              "reason": "she moved to another city"})
        assert changed.status_code == 200, changed.text
    await add_action(chair, later, scenario.case_a, "Refer to the new GP")
    await end(chair, later)

    for path in ("minutes.md", "minutes.html"):
        minutes = (await chair.get(f"/conferences/{later}/{path}")).text
        assert "Book a follow-up appointment (agreed at an earlier conference)" in minutes, path
        assert "Arrange a home visit (agreed at an earlier conference)" in minutes
        assert "Not applicable" in minutes and "Not taken" in minutes and "Refer to the new GP" in minutes
        assert "Send the discharge letter" not in minutes
    earlier = (await chair.get(f"/conferences/{first}/minutes.md")).text
    assert "Refer to the new GP" not in earlier and "agreed at an earlier conference" not in earlier
