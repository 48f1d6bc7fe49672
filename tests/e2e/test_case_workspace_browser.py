"""The case workspace in a real browser: live updates never take work away (an open fold with typed
text survives another person's change and a second tab opening the case; a refused form keeps its
message and its text), focus stays put, and every section fits 1280 and 390 px with no serious
accessibility finding."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import serious_accessibility_violations

PHONE = {"width": 390, "height": 844}
TYPED = "Typed by the chair and not saved yet"


def live_frames(page: Page) -> list[str]:
    """Every message the page's live connections receive, across its navigations."""
    frames: list[str] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(frame)))
    return frames


async def until_more(page: Page, frames: list[str], seen: int) -> None:
    """Wait until the page's live connection has sent more than ``seen`` messages."""
    for _ in range(200):
        if len(frames) > seen:
            return
        await page.wait_for_timeout(100)
    raise AssertionError("no live message reached the page")


async def first_live_message(page: Page, url: str) -> None:
    """Open ``url`` and wait until its live connection has sent the page's first state (which must
    not take anything away either)."""
    frames = live_frames(page)
    await page.goto(url)
    await until_more(page, frames, 0)


async def test_an_open_fold_with_typed_text_survives_others_changes_and_a_refusal_keeps_it(logged_in, scenario, console):
    stage_url = f"/cases/{scenario.case_a}/stage"
    chair = await logged_in("chair")
    frames = live_frames(chair)
    await chair.goto(stage_url)
    await until_more(chair, frames, 0)
    fold = chair.locator("#stage details").filter(has_text="Edit the people")
    await fold.locator("summary").click()
    await chair.locator("#edit-summary").fill(TYPED)

    # The chair opens the same case in a second tab: the first page does not move.
    second = await chair.context.new_page()
    await first_live_message(second, stage_url)

    # Another coordinator moves the case on: the header follows, the section in use stays as it is
    # and offers a reload, keyboard focus stays in the field being typed in.
    cochair = await logged_in("cochair")
    await cochair.goto(stage_url)
    await cochair.locator("#stage-to").select_option("action_plan")
    await cochair.locator("#stage-reason").fill("The action plan is agreed")
    await cochair.get_by_role("button", name="Move the case").click()
    await expect(chair.locator("#case-header")).to_contain_text("Action plan")
    notice = chair.locator("#section-changed")
    await expect(notice).to_contain_text("Changed by Health care")
    assert await fold.evaluate("fold => fold.open")
    await expect(chair.locator("#edit-summary")).to_have_value(TYPED)
    assert await chair.evaluate("document.activeElement.id") == "edit-summary"
    # The second tab, where nothing was being done, simply shows the change.
    await expect(second.get_by_role("heading", name="Stage: Action plan")).to_be_visible()

    # Saving the edit made on the old version is refused: the message, the record as it now is and
    # the chair's own text, in the section's own layout; the page's first live state keeps them.
    await chair.locator("#edit-reason").fill("Her summary, updated")
    seen = len(frames)
    await chair.get_by_role("button", name="Save a new version").click()
    await expect(chair.locator("#stage")).to_contain_text("Not saved:")
    await expect(chair.locator("#edit-current")).to_contain_text("Saved meanwhile")
    await expect(chair.locator("#edit-summary")).to_have_value(TYPED)
    await until_more(chair, frames, seen)
    await expect(chair.locator("#stage")).to_contain_text("Not saved:")
    await expect(chair.locator("#edit-summary")).to_have_value(TYPED)

    # Saving again applies the chair's text knowingly, over the current version.
    await chair.get_by_role("button", name="Save a new version").click()
    await expect(chair.locator("#stage")).not_to_contain_text("Not saved:")
    history = f"/cases/{scenario.case_a}/history"
    await chair.goto(history)
    await expect(chair.locator("#history")).to_contain_text("Her summary, updated")


async def test_the_reload_offer_is_a_keyboard_reachable_button_that_brings_the_change(logged_in, scenario):
    url = f"/cases/{scenario.case_a}/stage"
    chair = await logged_in("chair")
    await first_live_message(chair, url)
    await chair.locator("#stage-reason").fill("Half a reason")
    cochair = await logged_in("cochair")
    await cochair.goto(url)
    await cochair.locator("#stage-to").select_option("conference")
    await cochair.locator("#stage-reason").fill("To be heard again")
    await cochair.get_by_role("button", name="Move the case").click()
    reload = chair.get_by_role("button", name="Reload this section")
    await expect(reload).to_be_visible()
    await reload.focus()
    await chair.keyboard.press("Enter")
    await expect(chair.get_by_role("heading", name="Stage: Conference")).to_be_visible()
    await expect(chair.locator("#section-changed")).to_have_count(0)


async def test_every_section_fits_a_wide_screen_and_a_phone_with_no_serious_accessibility_finding(logged_in, scenario):
    for viewport in ({"width": 1280, "height": 800}, PHONE):
        chair = await logged_in("chair", viewport=viewport)
        await chair.goto(f"/cases/{scenario.case_a}")
        links = await chair.get_by_role("navigation", name="Case sections").get_by_role("link").all()
        urls = [await link.get_attribute("href") for link in links]
        assert len(urls) >= 10, urls
        for url in urls:
            await chair.goto(url)
            await expect(chair.locator("#section-body h2").first).to_be_visible()
            overflow = await chair.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{url} at {viewport['width']} px scrolls sideways by {overflow} px"
            assert await serious_accessibility_violations(chair) == [], url


async def test_the_role_map_keeps_names_whole_and_buttons_upright_on_a_wide_screen_and_a_phone(logged_in, scenario):
    for viewport in ({"width": 1280, "height": 800}, PHONE):
        chair = await logged_in("chair", viewport=viewport)
        await chair.goto(f"/conferences/{scenario.conference_id}")
        if viewport is PHONE:
            await expect(chair.get_by_role("heading", name="Role map")).to_be_visible()
        else:
            await chair.get_by_role("button", name="I accept: join the conference").click()
            await chair.get_by_role("button", name="Start the conference").click()
        roles = chair.locator(".conference-roles")
        await expect(roles.locator("th[scope=row]").first).to_be_visible()
        # Measured once the page has settled: the live socket's first page may still be swapping in.
        narrowest = await _settled(chair, "Math.min(...[...document.querySelectorAll('.conference-roles th[scope=row]')]"
                                          ".map(th => th.getBoundingClientRect().width))", lambda px: px >= 60)
        assert narrowest >= 60, f"a responsibility name is squeezed to {narrowest} px at {viewport['width']} px"
        tallest = await _settled(chair, "Math.max(...[...document.querySelectorAll('.conference-roles button')]"
                                        ".map(b => b.getBoundingClientRect().height))", lambda px: px <= 60)
        assert tallest <= 60, f"a button stands {tallest} px tall at {viewport['width']} px"
        overflow = await _settled(chair, "document.documentElement.scrollWidth - window.innerWidth", lambda px: px <= 0)
        assert overflow <= 0, f"the live page scrolls sideways by {overflow} px at {viewport['width']} px"


async def _settled(page, measure: str, good, seconds: float = 10):  # noqa: ANN001, ANN202
    """The measurement once it is good, or as it still is after ``seconds`` (a generous bound)."""
    value = await page.evaluate(measure)
    for _ in range(int(seconds * 10)):
        if good(value):
            break
        await page.wait_for_timeout(100)
        value = await page.evaluate(measure)
    return value
