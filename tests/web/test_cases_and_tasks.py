"""Cases from referrals, agencies' task lists, who may change a task, version conflicts."""

import datetime as dt

from sqlalchemy import select, update

from coordinator.models import Task
from tests.referral_form_steps import page_fields
from tests.sharing_steps import consent_to_join
from tests.web.support import whole_case


def titles(tasks: list[dict], agency: str) -> list[str]:
    return [t["title"] for t in tasks if t["agency"] == agency]


async def test_adding_agencies_creates_their_task_lists_from_the_plugins(client_for, case):
    chair = await client_for("chair")
    tasks = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
    police = titles(tasks, "police")
    assert "File a crime offence report if not yet done" in police
    assert "Create a safety plan for the victim" in police
    assert "Secure safe housing for the victim" in titles(tasks, "social_work")
    assert "Always examine the patient without their family members or spouse being present" in titles(tasks, "health")
    standing = [t for t in tasks if t["source"] == "standing"]
    assert {t["agency"] for t in standing} == {"police", "health"}
    assert {t["domain"] for t in tasks} <= {"victim", "children", "perpetrator"}


async def test_children_in_the_household_bring_child_protection_tasks(client_for, people):
    chair = await client_for("chair")
    base = {"kind": "domestic_abuse", "checklist_score": 15, "agencies": ["police", "social_work", "health"]}
    with_children = (await chair.post("/api/cases", json={**base, "people": [
        {"role": "survivor", "name": "Nora"}, {"role": "child", "name": "Ella"}]})).json()
    without = (await chair.post("/api/cases", json={**base, "people": [{"role": "survivor", "name": "Ann"}]})).json()
    child_task = "Initiate child protection procedures if not yet done"
    tasks_with = (await chair.get(f"/api/cases/{with_children['id']}/tasks")).json()
    tasks_without = (await chair.get(f"/api/cases/{without['id']}/tasks")).json()
    # Three agencies list it; it is one shared duty, social work's while nobody holds child protection.
    [duty] = [t for t in tasks_with if t["title"] == child_task]
    assert (duty["agency"], duty["domain"]) == ("social_work", "children")
    assert not [t for t in tasks_without if t["title"] == child_task]


async def test_threat_assessment_tasks_use_the_subject_target_environment_domains(client_for, people):
    chair = await client_for("chair")
    case = (await chair.post("/api/cases", json={
        "kind": "threat_assessment", "judgement_level": "high", "judgement_reasons": "specific threat to a teacher",
        "people": [{"role": "survivor", "name": "Ms Lee"}, {"role": "subject", "name": "Student X"}],
        "agencies": ["police"]})).json()
    tasks = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
    assert {t["domain"] for t in tasks} <= {"subject", "target", "environment", "precipitating_events"}
    assert {t["domain"] for t in tasks if t["title"].startswith("File a crime")} == {"subject"}


async def test_a_release_date_to_monitor_brings_the_release_task(client_for, people):
    chair = await client_for("chair")
    referral = {"kind": "domestic_abuse", "checklist_score": 15, "agencies": ["police"],
                "people": [{"role": "survivor", "name": "Nora"}],
                "key_dates": [{"kind": "release_from_custody", "on": "2026-12-01"}]}
    case = (await chair.post("/api/cases", json=referral)).json()
    tasks = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
    assert "Inform the victim when the perpetrator will be released from custody" in titles(tasks, "police")
    assert case["key_dates"] == [{"kind": "release_from_custody", "on": "2026-12-01", "note": ""}]


async def test_an_agency_completes_its_own_task_and_history_records_who(client_for, case, people):
    police = await client_for("pc")
    task = [t for t in (await police.get(f"/api/cases/{case['id']}/tasks")).json() if t["agency"] == "police"][0]
    started = await police.patch(f"/api/tasks/{task['id']}", json={"status": "in_progress", "version": task["version"]})
    assert started.status_code == 200
    done = await police.patch(f"/api/tasks/{task['id']}", json={"status": "done", "version": started.json()["version"]})
    body = done.json()
    assert body["status"] == "done"
    assert [(h["status"], h["by_id"]) for h in body["history"]][1:] == [
        ("in_progress", people["police"].id), ("done", people["police"].id)]


async def test_another_agency_cannot_change_the_task(client_for, case):
    health = await client_for("doc")
    police_task = [t for t in (await health.get(f"/api/cases/{case['id']}/tasks")).json() if t["agency"] == "police"][0]
    refused = await health.patch(f"/api/tasks/{police_task['id']}", json={"status": "done", "version": police_task["version"]})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "only Police or a coordinator can change this task"
    again = (await health.get(f"/api/tasks/{police_task['id']}")).json()
    assert again["status"] == "open" and again["version"] == police_task["version"]


async def test_a_stale_edit_is_refused_with_409_and_nothing_changes(client_for, case):
    first, second = await client_for("pc"), await client_for("pc")
    task = [t for t in (await first.get(f"/api/cases/{case['id']}/tasks")).json() if t["agency"] == "police"][0]
    assert (await first.patch(f"/api/tasks/{task['id']}", json={"status": "done", "version": task["version"]})).status_code == 200
    stale = await second.patch(f"/api/tasks/{task['id']}", json={"status": "blocked", "reason": "no answer", "version": task["version"]})
    assert stale.status_code == 409 and "changed by someone else" in stale.json()["detail"]
    assert (await first.get(f"/api/tasks/{task['id']}")).json()["status"] == "done"


async def test_not_applicable_and_blocked_need_a_reason(client_for, case):
    police = await client_for("pc")
    task = [t for t in (await police.get(f"/api/cases/{case['id']}/tasks")).json() if t["agency"] == "police"][0]
    missing = await police.patch(f"/api/tasks/{task['id']}", json={"status": "not_applicable", "version": task["version"]})
    assert missing.status_code == 400 and missing.json()["field"] == "reason"
    ok = await police.patch(f"/api/tasks/{task['id']}", json={"status": "not_applicable", "reason": "no children", "version": task["version"]})
    assert ok.json()["reason"] == "no children"


async def test_coordinator_assigns_an_extra_task_with_a_due_date(client_for, case):
    chair = await client_for("chair")
    created = await chair.post(f"/api/cases/{case['id']}/tasks", json={
        "agency": "health", "title": "Book a follow-up appointment", "domain": "victim", "due_on": "2026-12-01"})
    assert created.status_code == 201 and created.json()["source"] == "coordinator"
    health = await client_for("doc")
    assert "Book a follow-up appointment" in [t["title"] for t in (await health.get("/api/dashboard")).json()["tasks"]]


async def test_a_member_cannot_assign_tasks_or_create_cases(client_for, case):
    police = await client_for("pc")
    assign = await police.post(f"/api/cases/{case['id']}/tasks", json={"agency": "health", "title": "x", "domain": "victim"})
    assert assign.status_code == 403 and "coordinator" in assign.json()["detail"]
    from tests.conftest import REFERRAL
    assert (await police.post("/api/cases", json=REFERRAL)).status_code == 403


async def test_dashboard_lists_the_agencys_cases_and_open_tasks_overdue_first(client_for, case, sessionmaker):
    async with sessionmaker() as session:
        last = (await session.execute(select(Task.id).where(Task.agency == "police").order_by(Task.id.desc()))).scalar()
        await session.execute(update(Task).where(Task.id == last).values(due_on=dt.date(2020, 1, 1)))
        await session.commit()
    police = await client_for("pc")
    dashboard = (await police.get("/api/dashboard")).json()
    assert [c["reference"] for c in dashboard["cases"]] == [case["reference"]]
    assert dashboard["tasks"][0]["id"] == last and dashboard["tasks"][0]["overdue"] is True
    assert {t["agency"] for t in dashboard["tasks"]} == {"police"}
    page = (await police.get("/")).text
    assert page.index("Overdue") < page.index("File a crime offence report")


async def test_an_agency_outside_the_case_does_not_see_it(client_for, case):
    housing = await client_for("hou")
    assert (await housing.get(f"/api/cases/{case['id']}")).status_code == 404
    assert (await whole_case(housing, case['id'])).status_code == 404
    assert (await housing.get("/api/dashboard")).json()["cases"] == []


async def test_adding_an_agency_later_brings_its_list_and_twice_is_a_conflict(client_for, case):
    chair = await client_for("chair")
    await consent_to_join(chair, case["id"], "housing")
    added = await chair.post(f"/api/cases/{case['id']}/agencies", json={"agency": "housing"})
    assert added.status_code == 201
    tasks = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
    assert "Assess the need for emergency accommodation" in titles(tasks, "housing")
    again = await chair.post(f"/api/cases/{case['id']}/agencies", json={"agency": "housing"})
    assert again.status_code == 409 and "already part" in again.json()["detail"]


async def test_the_case_page_and_the_referral_form_work_in_html(client_for, people):
    chair = await client_for("chair")
    form = await chair.get("/cases/new")
    assert 'name="checklist_23"' in form.text and 'name="checklist_score"' not in form.text
    created = await chair.post("/cases", data={
        "kind": "domestic_abuse", "survivor_name": "Nora", "subject_name": "Mark", "children": "Ella\nLeo",
        **page_fields(17), "agencies": ["police", "health"], "lead_agency": "police",
        "key_date_kind_0": "hearing", "key_date_on_0": "2026-12-10", "key_date_note_0": "order hearing"})
    assert created.status_code == 200 and "Case C-" in created.text
    assert "Ella (child)" in created.text and "Hearing 2026-12-10" in created.text
    case_id = int(created.url.path.split("/")[2])
    tasks = (await chair.get(f"/cases/{case_id}/tasks")).text
    assert "Initiate child protection procedures if not yet done" in tasks


async def test_the_referral_form_shows_the_error_beside_the_field_and_keeps_the_input(client_for, people):
    chair = await client_for("chair")
    response = await chair.post("/cases", data={"kind": "domestic_abuse", "survivor_name": "Nora",
                                                **page_fields(18), "judgement_level": "standard",
                                                "judgement_reasons": "calmer"})
    assert response.status_code == 400
    assert 'id="judgement_level-error"' in response.text and "never lower" in response.text
    assert 'value="Nora"' in response.text
    assert (await chair.get("/api/cases")).json() == []


async def test_task_status_from_the_page_swaps_the_row_and_reports_conflicts(client_for, case):
    police = await client_for("pc")
    task = [t for t in (await police.get(f"/api/cases/{case['id']}/tasks")).json() if t["agency"] == "police"][0]
    htmx = {"hx-request": "true"}
    row = await police.post(f"/tasks/{task['id']}/status", headers=htmx,
                            data={"status": "in_progress", "version": str(task["version"])})
    assert row.status_code == 200 and row.text.lstrip().startswith(f'<li id="task-{task["id"]}"')
    assert "In progress" in row.text
    stale = await police.post(f"/tasks/{task['id']}/status", headers=htmx,
                              data={"status": "done", "version": str(task["version"])})
    assert stale.status_code == 409 and "changed by someone else" in stale.text


async def test_only_a_coordinator_gives_an_agency_an_extra_task(client_for, case):
    police, chair = await client_for("pc"), await client_for("chair")
    task = {"agency": "health", "title": "Check the records", "domain": "victim", "due_on": "2030-01-01"}
    refused = await police.post(f"/api/cases/{case['id']}/tasks", json=task)
    assert refused.status_code == 403 and "only a coordinator" in refused.json()["detail"]
    given = await chair.post(f"/api/cases/{case['id']}/tasks", json=task)
    assert given.status_code == 201, given.text
