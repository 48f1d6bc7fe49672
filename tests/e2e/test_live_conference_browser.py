"""The live conference in real browsers: three agencies, each in a browser of its own, follow
the chair without reloading, each sees the case as consent allows, and each downloads its own
minutes when the meeting ends."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page, expect

from tests.conference_scenario import CALL_OUTS, INJURIES

ROLE_HOLDER = "#role-perpetrator_management"
ACTION = "Serve the non-molestation order on Mark"
DECISION = "Refer Mark to the perpetrator programme"


async def join_from_dashboard(page: Page) -> None:
    """From the dashboard to the live page, accepting the confidentiality statement on the way."""
    await page.locator("#conferences").get_by_role("link", name="Open").click()
    await expect(page.get_by_role("heading", name="Confidentiality statement")).to_be_visible()
    await page.get_by_role("button", name="I accept: join the conference").click()
    await expect(page.locator("#conference-connection")).to_have_text("Connected")


def section(page: Page, aspect: str, conference_id: int):
    return page.locator(f"#conference-{aspect}-{conference_id}")


async def download_minutes(page: Page) -> str:
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download (HTML)").click()
    return Path(await (await download.value).path()).read_text()


async def test_three_agencies_follow_the_chair_live_and_download_their_own_minutes(logged_in, scenario, screenshots):
    chair, police, health = [await logged_in(name) for name in ("chair", "pc", "doc")]  # social work chairs
    everyone = (chair, police, health)
    for page in everyone:
        await join_from_dashboard(page)
    await expect(section(chair, "presence", scenario.conference_id).locator("li", has_text="Doc")).to_contain_text(
        "In the room")

    # The chair starts: every page moves to the first case (the one with children) by itself.
    await chair.get_by_role("button", name="Start the conference").click()
    for page in everyone:
        await expect(section(page, "case", scenario.conference_id)).to_contain_text("Ella (child)")

    # Police's call-outs are shared with social work by consent, not with health; health's
    # injuries with nobody. Each agency sees its own records and placeholders for the rest.
    chair_case, police_case, health_case = (section(page, "case", scenario.conference_id) for page in everyone)
    await expect(chair_case).to_contain_text(CALL_OUTS)
    await expect(chair_case).to_contain_text("Withheld: Health care holds")
    await expect(police_case).to_contain_text(CALL_OUTS)
    await expect(health_case).to_contain_text(INJURIES)
    await expect(health_case).to_contain_text("Withheld: Police holds")
    await expect(health_case).not_to_contain_text(CALL_OUTS)
    for case in (chair_case, police_case):
        await expect(case).not_to_contain_text(INJURIES)

    # The chair assigns a role, adds an action and records a decision; the other two pages show
    # each at once, without a reload (a reload would lose the mark left on the page).
    for page in (police, health):
        await page.evaluate("() => { window.untouched = true; }")
    # Meanwhile health is typing an action of its own: the live updates must not wipe it.
    await health.get_by_label("Action", exact=True).fill("Offer a follow-up appoin")
    role_row = chair.locator(ROLE_HOLDER)
    await role_row.get_by_label("Agency for Perpetrator management").select_option("police")
    await role_row.get_by_role("button", name="Assign").click()
    await chair.get_by_label("Owner agency").select_option("police")
    await chair.get_by_label("Domain").select_option("perpetrator")
    await chair.get_by_label("Due").fill("2026-12-15")
    await chair.get_by_label("Action", exact=True).fill(ACTION)
    await chair.get_by_role("button", name="Add the action").click()
    await chair.get_by_label("Text").fill(DECISION)
    await chair.get_by_role("button", name="Record").click()
    for page in (police, health):
        await expect(page.locator(ROLE_HOLDER)).to_contain_text("Police")
        await expect(page.locator(ROLE_HOLDER)).to_contain_text("Confirmed")
        await expect(section(page, "actions", scenario.conference_id)).to_contain_text(ACTION)
        await expect(section(page, "notes", scenario.conference_id)).to_contain_text(DECISION)
        assert await page.evaluate("() => window.untouched === true")
    await expect(health.get_by_label("Action", exact=True)).to_have_value("Offer a follow-up appoin")
    await expect(chair.get_by_label("Action", exact=True)).to_have_value("")  # cleared once it was added
    await chair.screenshot(path=screenshots / "live-conference-chair.png", full_page=True)
    await health.screenshot(path=screenshots / "live-conference-health.png", full_page=True)

    # Police, the owner, confirms its action; then the chair ends the meeting and every page
    # offers the minutes.
    police_action = section(police, "actions", scenario.conference_id).locator("tr", has_text=ACTION)
    await police_action.get_by_role("button", name="Confirm").click()
    await expect(section(chair, "actions", scenario.conference_id).locator("tr", has_text=ACTION)).to_contain_text(
        "Confirmed")
    await chair.get_by_role("button", name="End the conference…").click()
    await chair.get_by_role("dialog").get_by_role("button", name="End the conference").click()
    minutes = {}
    for name, page in zip(("social_work", "police", "health"), everyone):
        await expect(section(page, "status", scenario.conference_id)).to_contain_text("Ended")
        minutes[name] = await download_minutes(page)

    for copy in minutes.values():
        assert ACTION in copy and DECISION in copy and "Perpetrator management: Police" in copy
    assert CALL_OUTS in minutes["social_work"] and INJURIES not in minutes["social_work"]
    assert CALL_OUTS in minutes["police"] and INJURIES not in minutes["police"]
    assert INJURIES in minutes["health"] and CALL_OUTS not in minutes["health"]
    assert "withheld from your agency; ask Police" in minutes["health"]
