"""Her voice in the room, in a real browser on the demo a newcomer loads: the chair starts the
meeting and her case opens with her views and wishes, recorded by her advocate, before anything
else (the picture in the README's "Her voice")."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from coordinator.demo import DEMO_PASSWORD, load_demo
from coordinator.models import Conference
from coordinator.plugins import load_agencies
from tests.e2e.conftest import serious_accessibility_violations

HER_WORDS = "I want to stay in the flat with the children."


async def test_the_live_conference_opens_her_case_with_her_views(logged_in, server, sessionmaker, screenshots):
    async with sessionmaker() as session:
        await load_demo(session, load_agencies())  # the agencies the server itself runs with
        await session.commit()
        conference_id = (await session.execute(select(Conference.id).where(Conference.title == "Demo MARAC"))).scalar()

    chair = await logged_in("chair", password=DEMO_PASSWORD)
    await chair.goto(f"/conferences/{conference_id}")
    await chair.get_by_role("button", name="I accept: join the conference").click()
    await expect(chair.locator("#conference-connection")).to_have_text("Connected")
    await chair.get_by_role("button", name="Start the conference").click()
    case = chair.locator(f"#conference-case-{conference_id}")
    her_views = case.locator(".her-views")
    await expect(her_views).to_contain_text(HER_WORDS)
    await expect(her_views).to_contain_text("Advocacy (IDVA)")
    # First in her case: above the case's facts and the rest of its information.
    first = await case.locator(".her-views, dl.facts").first.get_attribute("class")
    assert first == "her-views"
    assert await serious_accessibility_violations(chair) == []
    await chair.screenshot(path=screenshots / "live-conference-her-voice.png")  # the top of the page: her case
