"""Who is in the conference, against a real server: someone without an agency is listed under
"No agency" on the page and on every open live page, and the chair can take a participant off
the conference (the API or the page's button), audited, live on every page; the removed
person's open page closes."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from websockets.exceptions import ConnectionClosed

from coordinator.models import AuditEntry
from tests.live.clients import WAIT


async def _participant_id(person, conference_id: int, name: str) -> int:
    state = (await person.api("GET", f"/api/conferences/{conference_id}")).json()["conference"]
    return next(p["participant_id"] for p in state["participants"] if p["name"] == name)


async def test_someone_without_an_agency_is_listed_under_no_agency_and_can_be_removed(
        servers, people_on, scenario, make_user, sessionmaker):
    server = servers()
    chair, pc = await people_on(server, "chair", "pc")
    chair_page = await chair.open_page(scenario.conference_id)
    police_page = await pc.open_page(scenario.conference_id)
    conference = f"/api/conferences/{scenario.conference_id}"
    admin = await make_user("admin", None, "admin")
    invited = await chair.api("POST", f"{conference}/participants", {"user_id": admin.id})
    assert invited.status_code == 201, invited.text

    for page in (chair_page, police_page):  # the socket: the list follows, the person under "No agency"
        shown = await page.wait_until("presence", "Admin")
        assert shown.index("No agency") < shown.index("Admin")
    page = await chair.http.get(f"/conferences/{scenario.conference_id}")  # the page itself
    assert page.status_code == 200 and "No agency" in page.text and "Admin" in page.text
    # Only the chair's page offers "Remove", and never for the chair.
    assert 'aria-label="Remove Admin from the conference"' in chair_page.part("presence")
    assert 'aria-label="Remove Chair' not in chair_page.part("presence")
    assert "Remove" not in police_page.part("presence")

    # The rest of the meeting still reaches every page.
    note = await chair.api("POST", f"{conference}/notes", {"case_id": chair_page_case(chair_page, scenario),
                                                           "kind": "decision", "text": "Review in four weeks"})
    assert note.status_code == 200, note.text
    for live in (chair_page, police_page):
        await live.wait_until("notes", "Review in four weeks")

    admin_place = await _participant_id(chair, scenario.conference_id, "Admin")
    assert (await pc.api("DELETE", f"{conference}/participants/{admin_place}")).status_code == 403
    removed = await chair.api("DELETE", f"{conference}/participants/{admin_place}")
    assert removed.status_code == 200, removed.text
    assert "Admin" not in [p["name"] for p in removed.json()["participants"]]
    for live in (chair_page, police_page):
        await live.wait_for(lambda shown: "Admin" not in shown.part("presence"))
    assert (await chair.api("DELETE", f"{conference}/participants/{admin_place}")).status_code == 404
    chair_place = await _participant_id(chair, scenario.conference_id, "Chair")
    refused = await chair.api("DELETE", f"{conference}/participants/{chair_place}")
    assert refused.status_code == 409 and "chair cannot be removed" in refused.json()["detail"]
    assert (await chair.api("DELETE", f"{conference}/participants/{2**40}")).status_code == 404
    async with sessionmaker() as session:
        audited = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "conference.participant_removed"))).scalars().all()
    assert [(a.actor_id, a.subject) for a in audited] == [(scenario.users["chair"],
                                                          f"conference:{scenario.conference_id}")]


def chair_page_case(page, scenario) -> int:
    """The case under discussion, as the notes form on the page names it."""
    marker = 'name="case_id" value="'
    notes = page.part("notes")
    return int(notes[notes.index(marker) + len(marker):].split('"', 1)[0])


async def test_the_page_s_remove_button_takes_someone_off_and_closes_their_page(servers, people_on, scenario):
    server = servers()
    chair, sw = await people_on(server, "chair", "sw")
    chair_page = await chair.open_page(scenario.conference_id)
    sw_page = await sw.open_page(scenario.conference_id)
    await chair_page.wait_for(lambda page: page.presence("Sw") == "present")
    place = await _participant_id(chair, scenario.conference_id, "Sw")
    answer = await chair.http.post(f"/conferences/{scenario.conference_id}/changes/remove-participant",
                                   data={"participant_id": str(place)},
                                   headers={"hx-request": "true", **chair._csrf()})
    assert answer.status_code == 200, answer.text
    await chair_page.wait_for(lambda page: page.presence("Sw") is None)
    closed = None
    async with asyncio.timeout(WAIT):
        try:
            while True:
                await sw_page.receive()
        except ConnectionClosed as error:  # the close is what is expected
            closed = error
    assert closed.rcvd.code == 4404
    assert (await sw.refusal(scenario.conference_id))[0] == 4404  # and cannot come back
