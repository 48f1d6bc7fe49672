"""A whole conference run by keyboard alone (issue 12, finding 10): after every live update, the
chair's and an agency's focus is where they left it (or on the control that replaced it), a polite
live region says what changed, focus rings are visible, and axe-core finds nothing serious on any
page on the way."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import csp_violations, serious_accessibility_violations, tab_to
from tests.e2e.test_live_conference_browser import section

ACTION = "Serve the non-molestation order on Mark"


async def accessible(page: Page, where: str) -> None:
    assert await serious_accessibility_violations(page) == [], where


async def join_by_keyboard(page: Page) -> None:
    await tab_to(page, page.locator("#conferences").get_by_role("link", name="Open"))
    await page.keyboard.press("Enter")
    await tab_to(page, page.get_by_role("button", name="I accept: join the conference"))
    await page.keyboard.press("Enter")
    await expect(page.locator("#conference-connection")).to_have_text("Connected")


async def test_10_a_whole_conference_by_keyboard_keeps_focus_and_announces_changes(logged_in, scenario, console):
    chair, police = await logged_in("chair"), await logged_in("pc")
    await accessible(chair, "dashboard")
    for page in (chair, police):
        await join_by_keyboard(page)
    await accessible(chair, "live page before the start")
    conference = scenario.conference_id
    chair_says, police_hears = chair.locator("#conference-announcer"), police.locator("#conference-announcer")

    # Start: the button goes; focus moves to the control that replaced it.
    await tab_to(chair, chair.get_by_role("button", name="Start the conference"))
    ring = await chair.evaluate("""() => { const style = getComputedStyle(document.activeElement);
        return [style.outlineStyle, parseFloat(style.outlineWidth)]; }""")
    assert ring[0] == "solid" and ring[1] >= 2  # a solid ring in a dark blue (7:1 on white)
    await chair.keyboard.press("Enter")
    await expect(chair.get_by_role("button", name="Next case")).to_be_focused()
    await expect(police_hears).to_have_text("Now discussing C-2026-0001.")

    # Assign a role: focus stays on the button (now "Reassign"), both hear who took it.
    await tab_to(chair, chair.get_by_label("Agency for Perpetrator management"))
    await chair.keyboard.type("Police")
    await chair.keyboard.press("Tab")  # past the named person: the role goes to the agency alone
    await expect(chair.get_by_label("Named person for Perpetrator management")).to_be_focused()
    await chair.keyboard.press("Tab")
    await expect(chair.get_by_role("button", name="Assign Perpetrator management")).to_be_focused()
    await chair.keyboard.press("Enter")
    await expect(chair.get_by_role("button", name="Reassign Perpetrator management")).to_be_focused()
    for page in (chair, police):
        await expect(page.locator("#conference-announcer")).to_have_text("Police took Perpetrator management.")

    # Add an action for police; the date field has no invisible stop (its picker button shows).
    await tab_to(chair, chair.get_by_label("Owner agency"))
    await chair.keyboard.type("Police")
    await chair.keyboard.press("Tab")
    await expect(chair.get_by_label("Named person", exact=True)).to_be_focused()  # none named: on to the domain
    await chair.keyboard.press("Tab")
    await chair.keyboard.type("Perpetrator")
    await chair.keyboard.press("Tab")
    await expect(chair.get_by_label("Due")).to_be_focused()
    picker = await chair.get_by_label("Due").evaluate(
        "element => getComputedStyle(element, '::-webkit-calendar-picker-indicator').opacity")
    assert picker == "1"
    await chair.keyboard.type("12152026")
    await tab_to(chair, chair.get_by_label("Action", exact=True))
    await chair.keyboard.type(ACTION)
    await tab_to(chair, chair.get_by_role("button", name="Add the action"))
    await chair.keyboard.press("Enter")
    await expect(section(police, "actions", conference)).to_contain_text(ACTION)
    await expect(chair.get_by_role("button", name="Add the action")).to_be_focused()
    await expect(police_hears).to_have_text(f"Action added for Police: {ACTION}.")
    await accessible(chair, "live page with an action")

    # Police waits on its Confirm while the chair records a decision: neither loses focus.
    confirm = police.get_by_role("button", name=f"Confirm “{ACTION}”")
    await tab_to(police, confirm)
    await tab_to(chair, chair.get_by_label("Text"))
    await chair.keyboard.type("Refer Mark to the perpetrator programme")
    await tab_to(chair, chair.get_by_role("button", name="Record"))
    await chair.keyboard.press("Enter")
    await expect(section(police, "notes", conference)).to_contain_text("Refer Mark")
    await expect(police_hears).to_have_text("Decision recorded.")
    await expect(chair.get_by_role("button", name="Record")).to_be_focused()
    await expect(confirm).to_be_focused()
    # Confirming removes the button: focus goes to the action's status, then survives others' changes.
    await police.keyboard.press("Enter")
    status = police.get_by_label(f"Status of “{ACTION}”")
    await expect(status).to_be_focused()
    await expect(section(chair, "actions", conference)).to_contain_text("Confirmed")
    await tab_to(chair, chair.get_by_label("Agency for Safety planning"))
    await chair.keyboard.type("Police")
    await tab_to(chair, chair.get_by_role("button", name="Assign Safety planning"))
    await chair.keyboard.press("Enter")
    await expect(police_hears).to_have_text("Police took Safety planning.")
    await expect(status).to_be_focused()

    # On through the agenda: focus stays on "Next case" until the last case, then on "End".
    for reference in ("C-2026-0002", "C-2026-0003"):
        await tab_to(chair, chair.get_by_role("button", name="Next case"), backwards=True)
        await chair.keyboard.press("Enter")
        await expect(chair_says).to_have_text(f"Now discussing {reference}.")
    await expect(chair.get_by_role("button", name="End the conference…")).to_be_focused()

    # Ending asks first; Escape keeps the meeting going and focus where it was.
    await chair.keyboard.press("Enter")
    dialog = chair.get_by_role("dialog")
    await expect(dialog.get_by_role("button", name="Keep the meeting going")).to_be_focused()
    await accessible(chair, "the end dialog")
    await chair.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(chair.get_by_role("button", name="End the conference…")).to_be_focused()
    await chair.keyboard.press("Enter")
    await chair.keyboard.press("Shift+Tab")
    await expect(dialog.get_by_role("button", name="End the conference")).to_be_focused()
    await chair.keyboard.press("Enter")
    await expect(police_hears).to_have_text("The conference has ended.")
    await expect(chair.get_by_role("link", name="Read the minutes")).to_be_focused()
    await accessible(chair, "live page, ended")

    # The minutes, ready to file: printed without the navigation.
    await chair.keyboard.press("Enter")
    await expect(chair.get_by_role("heading", name="Minutes: Weekly MARAC")).to_be_visible()
    await accessible(chair, "minutes")
    await chair.emulate_media(media="print")
    await expect(chair.locator("header.topbar")).to_be_hidden()
    await expect(chair.get_by_role("link", name="Download (HTML)")).to_be_hidden()
    await expect(chair.locator("#minutes")).to_contain_text(ACTION)
    await chair.emulate_media(media="screen")

    for path in ("/conferences/new", f"/cases/{scenario.case_a}/consents"):
        await chair.goto(path)
        await accessible(chair, path)
    assert csp_violations(console) == []
