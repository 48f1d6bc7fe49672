"""A participant's session ends in another tab: the meeting page says so at once, shows nothing
new after that, and its link logs them in again and brings them back to the meeting."""

from __future__ import annotations

from playwright.async_api import expect

from tests.conference_scenario import CALL_OUTS, PASSWORD


async def test_logging_out_in_another_tab_ends_the_meeting_page(logged_in, scenario, server):
    chair, social_work = await logged_in("chair"), await logged_in("sw")  # sw accepted the statement already
    meeting = f"/conferences/{scenario.conference_id}"
    await chair.goto(meeting)
    await chair.get_by_role("button", name="I accept: join the conference").click()
    await chair.get_by_role("button", name="Start the conference").click()
    await social_work.goto(meeting)
    await expect(social_work.locator("#conference-connection")).to_have_text("Connected")
    await expect(social_work.get_by_text(CALL_OUTS)).to_be_visible()  # shared with social work by consent

    other_tab = await social_work.context.new_page()
    await other_tab.goto("/")
    await other_tab.get_by_role("button", name="Log out").click()
    await expect(other_tab.get_by_label("Username")).to_be_visible()

    await expect(social_work.get_by_role("alert")).to_contain_text("Your session has ended", timeout=10_000)
    await expect(social_work.locator("#conference-connection")).to_have_text("Session ended")
    await expect(social_work.get_by_text(CALL_OUTS)).to_have_count(0)  # the meeting left the screen

    # The meeting goes on; nothing of it reaches the ended page.
    await chair.get_by_label("Text").fill("Decided after sw left")
    await chair.get_by_role("button", name="Record").click()
    await expect(chair.get_by_text("Decided after sw left")).to_be_visible()
    await expect(social_work.get_by_text("Decided after sw left")).to_have_count(0)

    # Logging in again from the notice returns to the meeting, not to an error page.
    await social_work.get_by_role("link", name="Log in again to return to the meeting").click()
    await social_work.get_by_label("Username").fill("sw")
    await social_work.get_by_label("Password").fill(PASSWORD)
    await social_work.get_by_role("button", name="Log in").click()
    await expect(social_work).to_have_url(f"{server.base_url}{meeting}")
    await expect(social_work.locator("#conference-connection")).to_have_text("Connected")
    await expect(social_work.get_by_text("Decided after sw left")).to_be_visible()
