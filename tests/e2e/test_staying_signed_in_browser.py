"""Staying signed in, in the browser, with a short idle limit (40 s, the warning at 20 s before
the end): someone who only listens in a meeting in progress stays signed in past the limit; once
the meeting is over their page offers "Stay signed in" in an alert, reachable and usable from the
keyboard; and what the chair was typing when their session ended is back in its field when they
log in again (and gone once they log out on purpose)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.conference_scenario import PASSWORD, build_conference
from tests.live.server import running_server

IDLE, WARNING = 40, 20
CHECKS_PAST_THE_LIMIT = 4  # the first answer comes 20 s in, the next every 10-20 s: past IDLE


@pytest.fixture
def server(database_url):
    with running_server(database_url=database_url, env={
        "COORDINATOR_SESSION_IDLE_SECONDS": str(IDLE), "COORDINATOR_SESSION_WARNING_SECONDS": str(WARNING),
        "COORDINATOR_HEARTBEAT_SECONDS": "1", "COORDINATOR_PRESENCE_TIMEOUT_SECONDS": "5",
        "COORDINATOR_SESSION_CHECK_SECONDS": "1"}) as running:
        yield running


@pytest.fixture
async def scenario(sessionmaker, registry):
    return await build_conference(sessionmaker, registry)  # started, everyone has accepted the statement


async def _csrf(page) -> dict[str, str]:
    token = next(c["value"] for c in await page.context.cookies() if c["name"] == "csrftoken")
    return {"x-csrftoken": token}


async def test_a_listener_stays_signed_in_and_a_page_offers_to_stay_before_the_end(logged_in, scenario, server):
    meeting = f"/conferences/{scenario.conference_id}"
    chair, listener = await logged_in("chair"), await logged_in("sw")

    # What the chair types survives their session ending and logging in again.
    await chair.goto(meeting)
    await expect(chair.locator("#conference-connection")).to_have_text("Connected")
    await chair.get_by_label("Text").fill("Refer Nora to the IDVA service")
    other_tab = await chair.context.new_page()
    await other_tab.goto("/")
    await other_tab.get_by_role("button", name="Log out").click()
    await expect(chair.get_by_role("alert")).to_contain_text("Your session has ended")
    await chair.get_by_role("link", name="Log in again to return to the meeting").click()
    await chair.get_by_label("Username").fill("chair")
    await chair.get_by_label("Password").fill(PASSWORD)
    await chair.get_by_role("button", name="Log in").click()
    await expect(chair).to_have_url(f"{server.base_url}{meeting}")
    await expect(chair.get_by_label("Text")).to_have_value("Refer Nora to the IDVA service")
    # Logging out on purpose leaves nothing typed behind in the tab.
    await chair.get_by_role("button", name="Log out").click()
    await chair.get_by_label("Username").fill("chair")
    await chair.get_by_label("Password").fill(PASSWORD)
    await chair.get_by_role("button", name="Log in").click()
    await chair.goto(meeting)
    await expect(chair.locator("#conference-connection")).to_have_text("Connected")
    await expect(chair.get_by_label("Text")).to_have_value("")

    # Someone who only listens: past the idle limit, still signed in and never warned.
    await listener.goto(meeting)
    await expect(listener.locator("#conference-connection")).to_have_text("Connected")
    page = listener.locator(".conference")
    await expect(page).to_have_attribute("data-session-checks", str(CHECKS_PAST_THE_LIMIT), timeout=90_000)
    await expect(listener.locator("#conference-connection")).to_have_text("Connected")
    await expect(listener.locator("#session-warning")).to_be_empty()

    # The meeting ends: listening is no longer use, and before the end the page offers to stay.
    state = await (await chair.request.get(f"/api/conferences/{scenario.conference_id}")).json()
    ended = await chair.request.post(f"/api/conferences/{scenario.conference_id}/end",
                                     data={"version": state["conference"]["version"]}, headers=await _csrf(chair))
    assert ended.ok, await ended.text()
    warning = listener.locator("#session-warning")
    await expect(warning).to_contain_text("Your session ends in about", timeout=40_000)
    stay = listener.get_by_role("button", name="Stay signed in")
    await listener.keyboard.press("Shift+Tab")  # from wherever focus was, back along the page
    await stay.focus()
    await expect(stay).to_be_focused()
    await listener.keyboard.press("Enter")
    await expect(warning).to_be_empty()
    await expect(listener.locator("#conference-announcer")).to_have_text("You stay signed in.")
    left = await (await listener.request.get("/api/session/expiry")).json()
    assert left["seconds_left"] > WARNING
