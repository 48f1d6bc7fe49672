"""Duties once: a duty several agencies' to-do lists carry is one shared duty with one holder, and a
task done through a referral of hers cannot be set done until one is sent; once done it links to it."""

from __future__ import annotations

import datetime as dt
import itertools

from coordinator.hookspecs import CaseFacts
from coordinator.models import Task
from coordinator.plugins import load_agencies
from tests.sharing_steps import consent_to_join, withdraw
from tests.web.support import whole_case

SUPPORT_SERVICES = "By the victim's consent, contact the victim support services"
REFERRAL = {"to_agency": "housing", "purpose": "emergency accommodation", "method": "written", "given_by": "Nora",
            "categories": ["police.call_outs"]}


def every_case() -> list[CaseFacts]:
    """Each kind of case with and without children, injuries recorded and a release date, so each
    agency's whole list is asked for."""
    return [CaseFacts(case_id=1, kind=kind, risk_level="high", has_children=children,
                      categories_recorded=frozenset({"health.injuries"} if injuries else ()),
                      key_dates=(("release_from_custody", dt.date(2030, 1, 1)),) if released else ())
            for kind, children, injuries, released in itertools.product(
                ("domestic_abuse", "threat_assessment"), (False, True), (False, True), (False, True))]


def test_the_catalogue_has_no_duty_text_in_two_agencies_lists_unless_it_is_one_shared_duty():
    registry = load_agencies()
    for facts in every_case():
        listed: dict[str, dict[str, str | None]] = {}  # title -> agency -> shared duty key
        for agency in registry.keys:
            for template in registry.task_list(agency, facts):
                listed.setdefault(template.title, {})[agency] = template.duty
        twice = {title: by for title, by in listed.items() if len(by) > 1}
        unshared = {title: by for title, by in twice.items() if None in by.values() or len(set(by.values())) > 1}
        assert unshared == {}, facts
        titles_of_duty: dict[str, set[str]] = {}
        for title, by in listed.items():
            for duty in filter(None, by.values()):
                titles_of_duty.setdefault(duty, set()).add(title)
        assert {duty: titles for duty, titles in titles_of_duty.items() if len(titles) > 1} == {}, facts


async def test_shelters_personal_data_and_crisis_support_are_each_one_task_held_by_one_agency(client_for, case):
    chair = await client_for("chair")
    tasks = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
    for duty in ("shelter_guidance", "personal_data_protection", "crisis_support"):
        [task] = [t for t in tasks if t["duty"] == duty]
        assert task["agency"] == {"shelter_guidance": "social_work", "personal_data_protection": "police",
                                  "crisis_support": "social_work"}[duty]
    titles = [t["title"] for t in tasks]
    assert titles.count("Inform the victim about shelters and guide the victim to a shelter if needed") == 1
    page = (await whole_case(chair, case["id"])).text
    assert "Inform the victim about shelters and guide the victim to a shelter if needed: <em>held by Social work</em>" \
        in page


async def support_services_task(client, case_id: int) -> dict:
    [task] = [t for t in (await client.get(f"/api/cases/{case_id}/tasks")).json() if t["title"] == SUPPORT_SERVICES]
    return task


async def test_contacting_the_support_services_is_done_only_through_a_referral_sent_and_links_to_it(
        client_for, case):
    police, social = await client_for("pc"), await client_for("sw")
    task = await support_services_task(police, case["id"])
    assert task["needs"] == "referral" and task["fulfilled_by"] is None
    refused = await police.patch(f"/api/tasks/{task['id']}", json={"status": "done", "version": task["version"]})
    assert refused.status_code == 409
    assert "is done through a referral of hers" in refused.json()["detail"] and refused.json()["field"] == "status"
    page = await police.post(f"/tasks/{task['id']}/status", data={"status": "done", "version": task["version"]},
                             headers={"HX-Request": "true"})
    assert page.status_code == 409 and "make the referral first" in page.text

    drafted = await social.post(f"/api/cases/{case['id']}/referrals", json=REFERRAL)
    assert drafted.status_code == 201, drafted.text
    referral = drafted.json()
    still = await police.patch(f"/api/tasks/{task['id']}", json={"status": "done", "version": task["version"]})
    assert still.status_code == 409  # a draft is not sent: she has not been referred yet
    sent = await social.post(f"/api/referrals/{referral['id']}/status", json={"status": "sent", "version": 1})
    assert sent.status_code == 201, sent.text
    done = await police.patch(f"/api/tasks/{task['id']}", json={"status": "done", "version": task["version"]})
    assert done.status_code == 200, done.text
    assert done.json()["fulfilled_by"] == f"referral:{referral['id']}"
    page = (await whole_case(police, case["id"])).text
    assert f'#referral-{referral["id"]}">referral #{referral["id"]}</a>' in page


async def test_signing_off_an_agencys_tasks_done_does_not_pass_the_referral_by(client_for, case):
    police = await client_for("pc")
    signed = await police.post(f"/api/cases/{case['id']}/sign-offs", json={"agency": "police", "decision": "done"})
    assert signed.status_code == 409 and "is done through a referral of hers" in signed.json()["detail"]
    assert (await support_services_task(police, case["id"]))["status"] == "open"


async def test_a_task_done_through_her_consent_waits_for_one_in_force_and_links_to_it(
        client_for, people, case, sessionmaker):
    police, chair = await client_for("pc"), await client_for("chair")
    async with sessionmaker() as session:  # as a plugin's template with needs="consent" lists it
        task = Task(case_id=case["id"], agency="police", title="Share the risk assessment with her GP", domain="victim",
                    source="agency_list", needs="consent", created_by_id=people["chair"].id)
        session.add(task)
        await session.commit()
    change = {"status": "done", "version": 1}
    refused = await police.patch(f"/api/tasks/{task.id}", json=change)
    assert refused.status_code == 409 and "a consent of hers in force" in refused.json()["detail"]
    withdrawn = await consent_to_join(chair, case["id"], "health")
    await withdraw(chair, case["id"], withdrawn)
    assert (await police.patch(f"/api/tasks/{task.id}", json=change)).status_code == 409  # withdrawn: not in force
    consent = await consent_to_join(chair, case["id"], "health")
    done = await police.patch(f"/api/tasks/{task.id}", json=change)
    assert done.status_code == 200 and done.json()["fulfilled_by"] == f"consent:{consent['id']}"
    assert f'/cases/{case["id"]}/consents#consent-{consent["id"]}">consent #{consent["id"]}</a>' in (
        await whole_case(police, case["id"])).text
