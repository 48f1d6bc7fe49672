"""Items 3, 8 and 9 of the usability findings, in a real browser: an agency's dashboard tells its
cases apart by reference, times are typed and shown in the deployment's zone, and the minutes of an
ended meeting are ready to file (marked for the reader's agency, printable, and as a PDF)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.test_live_conference_browser import join_from_dashboard, section


async def test_3_8_9_work_by_case_local_times_and_minutes_ready_to_file(logged_in, scenario):
    police = await logged_in("pc")
    by_case = police.locator("h3.case-group")
    await expect(by_case.first).to_contain_text("C-")
    assert await by_case.count() >= 2  # the same duty on two cases is no longer two identical rows

    chair = await logged_in("chair")
    await expect(chair.locator("#conferences")).to_contain_text("GMT")  # local time, with its zone
    await chair.goto("/conferences/new")
    await expect(chair.get_by_text("Date and time (Europe/London)")).to_be_visible()

    await chair.goto("/")
    await join_from_dashboard(chair)
    await chair.get_by_role("button", name="Start the conference").click()
    await chair.get_by_role("button", name="End the conference…").click()
    await chair.get_by_role("dialog").get_by_role("button", name="End the conference").click()
    await expect(section(chair, "status", scenario.conference_id)).to_contain_text("Ended")
    await chair.goto(f"/conferences/{scenario.conference_id}/minutes")
    await expect(chair.get_by_text("OFFICIAL-SENSITIVE: Social work copy").first).to_be_visible()
    await chair.emulate_media(media="print")
    await expect(chair.locator("header.topbar")).to_be_hidden()  # printed without the site's menus
    await chair.emulate_media(media="screen")
    pdf = chair.get_by_role("link", name="Download (PDF)")
    answer = await chair.request.get(await pdf.get_attribute("href"))
    assert answer.headers["content-type"].startswith("application/pdf")
    assert (await answer.body()).startswith(b"%PDF")
