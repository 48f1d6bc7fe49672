"""A meeting a tired professional can run: what people are doing survives everyone else's changes,
refusals appear by the control that was refused, the action plan is a table with done actions
folded away, irreversible steps ask first, and every page fits a phone. Numbers in the test names
are the findings of issue 12."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import csp_violations
from tests.e2e.test_live_conference_browser import join_from_dashboard, section

PHONE = {"width": 390, "height": 844}
VISIT = "Visit the address with the housing officer"
FOLLOW_UP = "Offer a follow-up appointment"


async def add_action(page: Page, agency: str, title: str) -> None:
    await page.get_by_label("Owner agency").select_option(agency)
    await page.get_by_label("Due").fill("2026-12-15")
    await page.get_by_label("Action", exact=True).fill(title)
    await page.get_by_role("button", name="Add the action").click()
    await expect(page.get_by_label("Action", exact=True)).to_have_value("")


async def test_1_5_7_typed_values_survive_refusals_show_by_the_control_and_done_actions_fold_away(
        logged_in, scenario, console):
    chair, police, health = [await logged_in(name) for name in ("chair", "pc", "doc")]
    for page in (chair, police, health):
        await join_from_dashboard(page)
    await chair.get_by_role("button", name="Start the conference").click()
    await add_action(chair, "police", VISIT)

    # Police starts setting its action to Blocked, cursor in the reason; the chair has picked an
    # agency in the role map and half-typed a note. Then health changes the role map and the plan.
    police_row = section(police, "actions", scenario.conference_id).locator("tr", has_text=VISIT)
    await police_row.get_by_label("Status of").select_option("blocked")
    await police_row.get_by_label("Reason").fill("Waiting for the court")
    await chair.get_by_label("Agency for Safety planning").select_option("social_work")
    await chair.get_by_label("Text").fill("Half a decisi")
    await police_row.get_by_label("Reason").focus()

    await health.get_by_role("button", name="We'll take it: Victim contact").click()
    await expect(chair.locator("#conference-announcer")).to_have_text("Health care offered to take Victim contact.")
    await add_action(health, "health", FOLLOW_UP)
    await expect(police.locator("#conference-announcer")).to_have_text(
        f"Action added for Health care: {FOLLOW_UP}.")
    await expect(police_row.get_by_label("Status of")).to_have_value("blocked")
    await expect(police_row.get_by_label("Reason")).to_have_value("Waiting for the court")
    await expect(police_row.get_by_label("Reason")).to_be_focused()
    await expect(chair.get_by_label("Agency for Safety planning")).to_have_value("social_work")
    await expect(chair.get_by_label("Text")).to_have_value("Half a decisi")

    # The chair changes police's action meanwhile: police's choice stays, and saving it is refused
    # (it was made on what police saw before), beside the row, keeping the choice; saving again applies it.
    chair_row = section(chair, "actions", scenario.conference_id).locator("tr", has_text=VISIT)
    await chair_row.get_by_label("Status of").select_option("in_progress")
    await chair_row.get_by_role("button", name="Save").click()
    await expect(police_row.locator(".badge")).to_have_text("In progress")
    await expect(police_row.get_by_label("Status of")).to_have_value("blocked")
    await police_row.get_by_role("button", name="Save").click()
    await expect(police_row.get_by_role("alert")).to_contain_text("changed")
    await expect(police.locator("#conference-notice")).to_be_empty()
    await expect(police_row.get_by_label("Status of")).to_have_value("blocked")
    await expect(police_row.get_by_label("Reason")).to_have_value("Waiting for the court")
    await police_row.get_by_role("button", name="Save").click()
    await expect(police_row.locator(".badge")).to_have_text("Blocked")
    await expect(police_row.get_by_role("alert")).to_have_count(0)

    # An error about a field is tied to that field.
    await police_row.get_by_label("Status of").select_option("not_applicable")
    await police_row.get_by_label("Reason").fill("")
    await police_row.get_by_role("button", name="Save").click()
    await expect(police_row.get_by_role("alert")).to_contain_text("say why")
    message_id = await police_row.get_by_role("alert").get_attribute("id")
    await expect(police_row.get_by_label("Reason")).to_have_attribute("aria-describedby", message_id)
    await expect(police_row.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")

    # 7: the plan is a table (owner, action, domain, due, status); a done action folds away.
    plan = section(chair, "actions", scenario.conference_id)
    await expect(plan.locator("table").first.locator("th")).to_have_text(["Owner", "Action", "Domain", "Due", "Status"])
    await police_row.get_by_label("Status of").select_option("done")
    await police_row.get_by_role("button", name="Save").click()
    done = plan.locator("details", has_text="Done or not applicable (1)")
    await expect(done).to_be_visible()
    await expect(done.get_by_text(VISIT, exact=True)).to_be_hidden()
    await expect(plan.locator("table").first).to_contain_text(FOLLOW_UP)
    await done.locator("summary").click()
    await expect(done.get_by_text(VISIT, exact=True)).to_be_visible()
    await health.get_by_role("button", name="We'll take it: Health follow-up").click()  # a change by someone else
    await expect(chair.locator("#role-health_follow_up")).to_contain_text("Health care")
    await expect(done.get_by_text(VISIT, exact=True)).to_be_visible()  # the fold the chair opened stays open

    # 5: moving on with actions unconfirmed is refused by the "Next case" button, in its own words.
    await chair.get_by_role("button", name="Next case").click()
    status = section(chair, "status", scenario.conference_id)
    await expect(status.get_by_role("alert")).to_contain_text("must confirm its actions")
    await expect(status.get_by_role("alert")).not_to_contain_text("clos")
    await expect(chair.locator("#conference-notice")).to_be_empty()
    assert csp_violations(console) == []


async def test_4_ending_the_conference_and_withdrawing_a_whole_consent_ask_first(logged_in, scenario):
    chair = await logged_in("chair")
    await join_from_dashboard(chair)
    await chair.get_by_role("button", name="Start the conference").click()
    status = section(chair, "status", scenario.conference_id)
    await chair.get_by_role("button", name="End the conference…").click()
    dialog = chair.get_by_role("dialog")
    await expect(dialog).to_contain_text("End the conference for everyone?")
    await dialog.get_by_role("button", name="Keep the meeting going").click()
    await expect(dialog).to_be_hidden()
    await expect(status).to_contain_text("Live")
    await chair.get_by_role("button", name="End the conference…").click()
    await dialog.get_by_role("button", name="End the conference").click()
    await expect(status).to_contain_text("Ended")

    await chair.goto(f"/cases/{scenario.case_a}/consents")
    consent = chair.locator("article").first  # police's call-outs, shared with social work
    await consent.get_by_role("button", name="Withdraw all of this consent…").click()
    dialog = chair.get_by_role("dialog")
    await expect(dialog).to_contain_text("Withdraw all of consent")
    await dialog.get_by_role("button", name="Keep the consent").click()
    await expect(consent).to_contain_text("In force")
    await consent.get_by_role("button", name="Withdraw all of this consent…").click()
    await dialog.get_by_role("button", name="Withdraw all of it").click()
    await expect(consent).not_to_contain_text("In force")


async def test_2_5_6_pages_fit_a_phone_with_the_case_first_and_the_chair_keeps_time(logged_in, scenario, screenshots):
    chair = await logged_in("chair", viewport=PHONE)

    async def fits() -> None:
        assert await chair.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), chair.url

    await fits()  # the dashboard
    listed = chair.locator("#conferences li", has_text="Weekly MARAC")
    await expect(listed).to_contain_text("Chair · Open")  # 5: no longer run together
    await chair.goto("/conferences/new")
    await expect(chair.get_by_role("heading", name="Schedule a conference")).to_be_visible()
    await fits()
    await chair.goto(f"/conferences/{scenario.conference_id}")
    await chair.get_by_role("button", name="I accept: join the conference").click()
    await chair.get_by_role("button", name="Start the conference").click()
    case = section(chair, "case", scenario.conference_id)
    await expect(case).to_contain_text("Ella (child)")
    await fits()
    top = {aspect: (await section(chair, aspect, scenario.conference_id).bounding_box())["y"]
           for aspect in ("case", "actions", "agenda")}
    assert top["case"] < top["actions"] < top["agenda"]

    # 6: the chair's time-box: which case of how many, the minutes on it, the order of business.
    status = section(chair, "status", scenario.conference_id)
    await expect(status).to_contain_text("case 1 of 3")
    await expect(status.locator("#case-clock")).to_contain_text("min on this case")
    await status.get_by_text("Order of business for this case").click()
    for step in ("Present the case", "Agencies share what they hold", "Risk and safety",
                 "Actions with owners and dates", "Summary"):
        await expect(status.get_by_label(step)).to_be_visible()
    await chair.screenshot(path=screenshots / "live-conference-phone.png", full_page=True)


async def test_a_form_posted_before_htmx_has_loaded_carries_the_page_token(logged_in, scenario):
    """A quick click on a slow device: the live page's forms hold no token of their own (htmx sends
    it as a header), yet a plain post is accepted, not refused as forged."""
    chair = await logged_in("chair")
    await chair.route("**/static/vendor/htmx.min.js", lambda route: route.abort())
    await chair.goto(f"/conferences/{scenario.conference_id}")
    await chair.get_by_role("button", name="I accept: join the conference").click()
    await chair.get_by_role("button", name="Start the conference").click()
    await expect(chair.get_by_text("CSRF token verification failed")).to_have_count(0)
    await chair.goto(f"/conferences/{scenario.conference_id}")
    await expect(chair.locator("#conference-start")).to_have_count(0)  # started: no start button left
    await expect(chair.locator(".badge.conference-live")).to_be_visible()
