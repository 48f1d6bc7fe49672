"""The live socket against real server processes: what a page shows follows consent as it
changes, what an agency not on the case receives, and the socket ending with its session."""

import asyncio
import datetime as dt
import os

import httpx
import pytest
from sqlalchemy import func, select, update
from websockets.exceptions import ConnectionClosed

from coordinator.models import Consent, ConsentScope, Disclosure, User, WebSession, utcnow
from tests.conference_scenario import CALL_OUTS, CASE_C_NOTE, CASE_C_SUMMARY
from tests.live.clients import WAIT
from tests.live.test_two_servers import two_processes

QUICK_CHECKS = {"COORDINATOR_SESSION_CHECK_SECONDS": "1"}
EVENTS_ONLY = {"COORDINATOR_SESSION_CHECK_SECONDS": "3600"}  # no periodic check: only the logout event can close
SHARED_CHANNELS = {"channels_url": os.environ.get("COORDINATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
                   "channels_prefix": f"test{os.getpid()}"}  # two processes that hear each other


async def closed_with(page) -> int:  # noqa: ANN001
    """Receive until the server closes the socket; its close code."""
    try:
        async with asyncio.timeout(WAIT):
            while True:
                await page.receive()
    except ConnectionClosed as closed:
        return closed.rcvd.code


async def test_a_withdrawal_made_elsewhere_leaves_an_open_page_at_once(servers, people_on, scenario, sessionmaker):
    """Finding 5: consent is withdrawn on the case page; the meeting page drops the text."""
    server = servers()
    chair, sw = await people_on(server, "chair", "sw")
    page = await sw.open_page(scenario.conference_id)
    assert CALL_OUTS in page.part("case")
    consents = (await chair.api("GET", f"/api/cases/{scenario.case_a}/consents")).json()
    withdrawn = await chair.api("POST", f"/api/cases/{scenario.case_a}/consents/{consents[0]['id']}/withdrawals", {})
    assert withdrawn.status_code == 201, withdrawn.text
    await page.wait_for(lambda p: CALL_OUTS not in p.part("case") and "Withheld: Police holds" in p.part("case"))


async def test_a_consent_expiring_reaches_an_open_page_with_no_other_change(servers, people_on, scenario,
                                                                             sessionmaker):
    server = servers()
    (sw,) = await people_on(server, "sw")
    async with sessionmaker() as session:  # police's call-outs: shared with social work a little longer
        await session.execute(update(Consent).where(Consent.case_id == scenario.case_a)
                              .values(expires_at=utcnow() + dt.timedelta(seconds=3)))
        await session.commit()
    page = await sw.open_page(scenario.conference_id)
    assert CALL_OUTS in page.part("case")
    await page.wait_for(lambda p: CALL_OUTS not in p.part("case") and "Withheld: Police holds" in p.part("case"))


async def test_an_agency_not_on_the_case_receives_its_agenda_line_only(servers, people_on, scenario):
    server = servers()
    chair, doc, sw = await people_on(server, "chair", "doc", "sw")
    health_page, sw_page = await doc.open_page(scenario.conference_id), await sw.open_page(scenario.conference_id)
    state = (await chair.api("GET", f"/api/conferences/{scenario.conference_id}")).json()["conference"]
    item = next(e["id"] for e in state["agenda"] if e["case_id"] == scenario.case_c)
    moved = await chair.api("POST", f"/api/conferences/{scenario.conference_id}/move",
                            {"item_id": item, "version": state["version"]})
    assert moved.status_code == 200, moved.text
    await sw_page.wait_until("case", CASE_C_NOTE, CASE_C_SUMMARY)
    await health_page.wait_until("case", "Your agency is not part of this case")
    everything = "".join(health_page.shown.values())
    for secret in (CASE_C_NOTE, CASE_C_SUMMARY, "Cara"):
        assert secret not in everything
    assert "We&#39;ll take it" not in health_page.part("roles") and "Add an action" not in health_page.part("new_action")


async def test_logout_closes_the_open_page_of_that_session_only(servers, people_on, scenario):
    """Finding 4."""
    server = servers(env=EVENTS_ONLY)
    chair, sw, sw_elsewhere = await people_on(server, "chair", "sw", "sw")
    page, other_session = await sw.open_page(scenario.conference_id), await sw_elsewhere.open_page(scenario.conference_id)
    logged_out = await sw.api("POST", "/logout")
    assert logged_out.status_code == 200
    assert await closed_with(page) == 4401
    await chair.api("POST", f"/api/conferences/{scenario.conference_id}/notes",
                    {"case_id": scenario.case_a, "kind": "note", "text": "Still in the room"})
    await other_session.wait_until("notes", "Still in the room")  # the other session's page lives on


@pytest.mark.parametrize("ending", ["idle expiry", "deactivation"])
async def test_a_socket_ends_when_its_session_does(servers, people_on, scenario, sessionmaker, ending):
    server = servers(env=QUICK_CHECKS)
    (sw,) = await people_on(server, "sw")
    page = await sw.open_page(scenario.conference_id)
    async with sessionmaker() as session:
        if ending == "idle expiry":
            await session.execute(update(WebSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        else:
            await session.execute(update(User).where(User.id == scenario.users["sw"]).values(active=False))
        await session.commit()
    assert await closed_with(page) == 4401
    assert (await sw.refusal(scenario.conference_id))[0] == 4401  # and it stays closed


@two_processes
async def test_logout_through_another_server_process_closes_the_page(servers, people_on, scenario):
    first, second = servers(**SHARED_CHANNELS), servers(**SHARED_CHANNELS, env=EVENTS_ONLY)
    (sw,) = await people_on(second, "sw")
    page = await sw.open_page(scenario.conference_id)
    sw.http.base_url = first.base_url  # the same browser session, served by the other process
    assert (await sw.api("POST", "/logout")).status_code == 200
    assert await closed_with(page) == 4401


@two_processes
async def test_a_session_ended_through_one_process_is_refused_by_the_other_at_the_next_request(servers, people_on,
                                                                                              scenario):
    """No process keeps a session it has served: the other process's next request reads it again."""
    first, second = servers(**SHARED_CHANNELS), servers(**SHARED_CHANNELS)
    (sw,) = await people_on(second, "sw")
    cookie = {"Cookie": f"session={sw.http.cookies['session']}"}
    async with httpx.AsyncClient(base_url=second.base_url) as replay:
        assert (await replay.get("/api/me", headers=cookie)).status_code == 200  # served by the second
        sw.http.base_url = first.base_url
        assert (await sw.api("POST", "/logout")).status_code == 200  # ended through the first
        refused = await replay.get("/api/me", headers=cookie)
    assert refused.status_code == 401 and refused.json()["detail"] == "log in first"


async def test_opening_a_live_page_discloses_once_and_keeps_it(servers, people_on, scenario, sessionmaker):
    """Finding 9 and the disclosures of a live page being committed, not rolled back."""
    server = servers()
    (sw,) = await people_on(server, "sw")
    page_html = await sw.http.get(f"/conferences/{scenario.conference_id}")
    assert CALL_OUTS not in page_html.text
    page = await sw.open_page(scenario.conference_id)
    assert CALL_OUTS in page.part("case")
    async with sessionmaker() as session:
        shown = (await session.execute(select(func.count()).select_from(Disclosure).where(
            Disclosure.viewer_id == scenario.users["sw"], Disclosure.channel == "conference"))).scalar_one()
        scoped = (await session.execute(select(func.count()).select_from(ConsentScope))).scalar_one()
    assert shown == 1 and scoped >= 1
