"""Before the meeting, in a real browser on the demo a newcomer loads: the chair's readiness view
(the picture in the README), an agency that had not yet returned its research returning it from its
page, and the chair's live agenda showing it at once."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from coordinator.demo import DEMO_PASSWORD, load_demo
from coordinator.models import Conference
from coordinator.plugins import load_agencies
from tests.e2e.conftest import csp_violations, serious_accessibility_violations


async def test_the_chair_watches_the_research_come_in(logged_in, server, sessionmaker, screenshots, console):
    registry = load_agencies()  # the agencies the server itself runs with
    async with sessionmaker() as session:
        await load_demo(session, registry)
        await session.commit()
        conference_id = (await session.execute(select(Conference.id).where(Conference.title == "Demo MARAC"))).scalar()
    awaited = registry.keys[-1]  # the demo leaves the last agency's research to come

    chair = await logged_in("chair", password=DEMO_PASSWORD)
    await chair.get_by_role("link", name="Before the meeting: Demo MARAC").click()
    readiness = chair.locator("#readiness")
    await expect(readiness).to_contain_text("Nothing held")
    await expect(readiness).to_contain_text("Not researched")
    await expect(readiness).to_contain_text("Awaiting")
    assert await serious_accessibility_violations(chair) == []
    await chair.screenshot(path=screenshots / "before-the-meeting.png", full_page=True)

    await chair.goto(f"/conferences/{conference_id}")
    await chair.get_by_role("button", name="I accept: join the conference").click()
    await expect(chair.locator("#conference-connection")).to_have_text("Connected")
    agenda_line = chair.locator(".agenda-readiness").first
    await expect(agenda_line).to_contain_text(f"{registry.name(awaited)}: Awaiting")

    agency = await logged_in(f"{awaited}.rep", password=DEMO_PASSWORD)
    await agency.goto(f"/conferences/{conference_id}/research")
    own = agency.locator(".research-return").first
    await own.get_by_label("Return").select_option("nothing_held")
    await own.get_by_role("button", name="Submit the return").click()
    await expect(agency.locator(".research-return").first).to_contain_text("Returned")

    await expect(agenda_line).to_contain_text(f"{registry.name(awaited)}: Nothing held")  # without a reload
    assert csp_violations(console) == []
