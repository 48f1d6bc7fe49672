"""Between meetings and at the end, in a real browser on the demo a newcomer loads: the
coordinator's, an agency's and the supervisor's dashboards, the case mid-follow-up, and a closure
requested by the coordinator (every open task reviewed) and approved by the supervisor. The
pictures in the README are taken here (`make screenshots`)."""

from __future__ import annotations

from playwright.async_api import expect

from coordinator.demo import DEMO_PASSWORD, load_demo
from coordinator.plugins import load_agencies
from tests.e2e.conftest import serious_accessibility_violations


async def test_a_case_between_meetings_and_its_closure(logged_in, server, sessionmaker, screenshots):
    registry = load_agencies()  # the agencies the server itself runs with
    async with sessionmaker() as session:
        await load_demo(session, registry)
        await session.commit()
    other = registry.keys[1]

    chair = await logged_in("chair", password=DEMO_PASSWORD)
    await expect(chair.get_by_role("heading", name="To be heard at the next conference")).to_be_visible()
    await chair.screenshot(path=screenshots / "dashboard-coordinator.png", full_page=True)
    await chair.get_by_role("link", name="C-").first.click()
    sections = chair.get_by_role("navigation", name="Case sections")
    await expect(chair.locator("#case-header")).to_contain_text("Follow up")
    await sections.get_by_role("link", name="Stage and risk").click()
    await expect(chair.get_by_role("heading", name="Stage: Follow up")).to_be_visible()
    await expect(chair.locator("#stage")).to_contain_text("Reassess the risk")
    assert await serious_accessibility_violations(chair) == []
    await sections.get_by_role("link", name="Events").click()
    await expect(chair.locator("#events")).to_contain_text("Key date near")
    await chair.screenshot(path=screenshots / "case-between-meetings.png", full_page=True)

    agency = await logged_in(f"{other}.rep", password=DEMO_PASSWORD)
    await expect(agency.get_by_role("heading", name="open tasks, by case")).to_be_visible()
    await agency.screenshot(path=screenshots / "dashboard-agency.png", full_page=True)

    supervisor = await logged_in("supervisor", password=DEMO_PASSWORD)
    await expect(supervisor.get_by_role("heading", name="Overrides awaiting a decision")).to_be_visible()
    await supervisor.screenshot(path=screenshots / "dashboard-supervisor.png", full_page=True)

    # The coordinator reviews every open task and asks to close; the supervisor approves.
    await sections.get_by_role("link", name="Closure").click()
    closing = chair.locator("#closure")
    await closing.get_by_text("Request the closure of this case").click()
    await closing.get_by_label("Criterion").select_option("survivor_wishes")
    await closing.get_by_label("The specific reasons").fill("She asked to close; support network in place")
    for review in await closing.locator("select[name$='_decision']").all():
        await review.select_option("not_applicable")
    for reason in await closing.locator("input[name$='_reason']").all():
        await reason.fill("She declined further contact")
    await closing.get_by_role("button", name="Request closure").click()
    await expect(chair.locator("#closure")).to_contain_text("A supervisor other than the requester decides")

    await supervisor.goto(chair.url.split("#")[0])  # the case's closure section
    await supervisor.get_by_role("button", name="Approve the closure").click()
    await expect(supervisor.get_by_role("heading", name="Closed", exact=True)).to_be_visible()
    await expect(supervisor.locator("#closure")).to_contain_text("It is read-only")
    await supervisor.screenshot(path=screenshots / "case-closed.png", full_page=True)
