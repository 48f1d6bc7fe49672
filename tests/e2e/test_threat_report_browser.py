"""A threat-assessment team's member, not a coordinator, takes a report in the browser: the case opens
with the team's emergency steps first, and the member screens it from the case page."""

from __future__ import annotations

from playwright.async_api import expect

from tests.e2e.conftest import csp_violations


async def test_a_team_member_reports_and_screens_a_threat_in_the_browser(logged_in, scenario, console):
    officer = await logged_in("pc")  # police, a member of the school's team
    await officer.get_by_role("button", name="New threat-assessment report").click()
    await officer.get_by_label("Subject / perpetrator").fill("Sam")
    await officer.get_by_label("Target", exact=True).first.fill("Year 10 science")
    await officer.get_by_label("Concern").fill("Said the science class would be sorry")
    await officer.get_by_label("Who reported it").fill("A classmate")
    await officer.get_by_label("Where it was said or done").fill("Science corridor")
    await officer.get_by_label("Someone is in immediate danger").check()
    await officer.get_by_label("Police", exact=True).check()
    await officer.get_by_role("button", name="Create the case").click()
    await expect(officer.get_by_role("heading", name="Immediate danger reported: the team's emergency steps")) \
        .to_be_visible()

    await officer.get_by_role("link", name="Threat plan and contacts").click()
    await officer.get_by_label("Classification").select_option("substantive_serious")
    await officer.get_by_label("Reasons").fill("A named class and a grievance")
    await officer.get_by_role("button", name="Record the classification").click()
    await expect(officer.get_by_text("Classified Substantive serious")).to_be_visible()
    assert csp_violations(console) == []
