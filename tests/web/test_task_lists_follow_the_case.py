"""Task lists follow the case: on every change to what the plugins are told (people, risk,
information recorded) each agency's list is evaluated again; a duty that now applies is added
once, one that no longer applies is marked "not applicable (case changed)" and kept, never deleted."""

from __future__ import annotations

from collections.abc import Callable

from coordinator import cases
from coordinator.hookspecs import TaskTemplate
from coordinator.policy import SYSTEM
from coordinator.tasks import CASE_CHANGED
from tests.sharing_steps import record_item

ADULTS = [{"role": "survivor", "name": "Nora"}, {"role": "subject", "name": "Mark"}]
CHILD = {"role": "child", "name": "Ella"}
CHILD_PROTECTION = "child_protection_procedures"
GUIDE_TO_HEALTH_CARE = "guide the victim to Health Care services"


async def open_adults_case(chair) -> dict:
    created = await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "people": ADULTS, "checklist_score": 15,
        "agencies": ["police", "social_work", "health"], "lead_agency": "social_work"})
    assert created.status_code == 201, created.text
    return created.json()


async def edit_people(chair, case_id: int, people: list[dict]) -> None:
    version = (await chair.get(f"/api/cases/{case_id}")).json()["version"]
    edited = await chair.patch(f"/api/cases/{case_id}", json={"version": version, "reason": "the family changed",
                                                              "people": people})
    assert edited.status_code == 200, edited.text


async def tasks_where(chair, case_id: int, matches: Callable[[dict], bool]) -> list[dict]:
    return [t for t in (await chair.get(f"/api/cases/{case_id}/tasks")).json() if matches(t)]


def child_protection(task: dict) -> bool:
    return task["duty"] == CHILD_PROTECTION


async def test_a_child_added_later_brings_the_child_protection_duty_once_and_its_removal_sets_it_aside(
        client_for, people):
    chair = await client_for("chair")
    case = await open_adults_case(chair)
    assert await tasks_where(chair, case["id"], child_protection) == []

    await edit_people(chair, case["id"], [*ADULTS, CHILD])
    [duty] = await tasks_where(chair, case["id"], child_protection)
    assert (duty["agency"], duty["status"]) == ("social_work", "open")
    await edit_people(chair, case["id"], [*ADULTS, CHILD, {"role": "child", "name": "Tom"}])
    assert len(await tasks_where(chair, case["id"], child_protection)) == 1  # added once

    await edit_people(chair, case["id"], ADULTS)
    [aside] = await tasks_where(chair, case["id"], child_protection)  # kept, never deleted
    assert (aside["id"], aside["status"], aside["reason"]) == (duty["id"], "not_applicable", CASE_CHANGED)
    history = (await chair.get(f"/api/tasks/{duty['id']}")).json()["history"]
    assert history[-1]["reason"] == CASE_CHANGED

    await edit_people(chair, case["id"], [*ADULTS, CHILD])
    [back] = await tasks_where(chair, case["id"], child_protection)
    assert (back["id"], back["status"]) == (duty["id"], "open")


async def test_done_work_stays_done_when_the_case_changes(client_for, people):
    chair = await client_for("chair")
    case = await open_adults_case(chair)
    await edit_people(chair, case["id"], [*ADULTS, CHILD])
    [duty] = await tasks_where(chair, case["id"], child_protection)
    done = await chair.patch(f"/api/tasks/{duty['id']}", json={"status": "done", "version": duty["version"]})
    assert done.status_code == 200, done.text
    await edit_people(chair, case["id"], ADULTS)
    [kept] = await tasks_where(chair, case["id"], child_protection)
    assert kept["status"] == "done"


async def test_an_injury_recorded_later_gives_police_the_guide_to_health_care_task(client_for, people):
    chair, doctor = await client_for("chair"), await client_for("doc")
    case = await open_adults_case(chair)

    def guide(task: dict) -> bool:
        return task["agency"] == "police" and GUIDE_TO_HEALTH_CARE in task["title"]

    assert await tasks_where(chair, case["id"], guide) == []
    await record_item(doctor, case["id"], "health.injuries", "bruising to both arms")
    [task] = await tasks_where(chair, case["id"], guide)
    assert task["status"] == "open" and task["source"] == "agency_list"
    await record_item(doctor, case["id"], "health.injuries", "a cut above the eye")
    assert len(await tasks_where(chair, case["id"], guide)) == 1


async def test_two_changes_adding_the_same_listed_task_at_once_leave_one(client_for, people, sessionmaker, registry):
    """Each change reads the list before it adds (two processes both see the duty missing): the
    database's partial unique indexes keep one copy, and the second insert is skipped, not a 500."""
    chair = await client_for("chair")
    case = await open_adults_case(chair)
    child_duty = TaskTemplate("Initiate child protection procedures if not yet done", "children",
                              duty=CHILD_PROTECTION)
    shelter = TaskTemplate("Help the victim find a shelter", "victim")
    async with sessionmaker() as session:
        for _ in range(2):  # what each of two concurrent changes would insert
            await cases.add_listed_tasks(session, [
                cases.task_from(case["id"], agency, template, "agency_list", SYSTEM)
                for agency, template in (("social_work", child_duty), ("police", child_duty), ("police", shelter))])
        await session.commit()
    assert len(await tasks_where(chair, case["id"], child_protection)) == 1
    assert len(await tasks_where(chair, case["id"], lambda t: t["title"] == shelter.title)) == 1


async def test_a_task_not_taken_no_longer_counts_as_open_on_the_case_page(client_for, people):
    chair = await client_for("chair")
    case = await open_adults_case(chair)
    police = await tasks_where(chair, case["id"], lambda t: t["agency"] == "police")
    still_open = [t for t in police if t["status"] == "open"]
    page = (await chair.get(f"/cases/{case['id']}/tasks")).text
    assert f"Police</strong> · {len(still_open)} open of {len(police)}" in page
    dropped = await chair.patch(f"/api/tasks/{still_open[0]['id']}", json={
        "status": "not_taken", "version": still_open[0]["version"], "reason": "she declined it"})
    assert dropped.status_code == 200, dropped.text
    page = (await chair.get(f"/cases/{case['id']}/tasks")).text
    assert f"Police</strong> · {len(still_open) - 1} open of {len(police)}" in page
