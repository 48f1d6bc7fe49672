"""Threat-assessment cases as the school's team uses them: the referral with its targets and concern,
the case-management plan chosen from the strategy catalogue across S, T, E and P, the warning when a
separation is not coupled with containment and support, the monitoring status bringing the case back
at each review, precipitating events prompting the P items, and the contact log behind the gate."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from coordinator import threat_demo
from coordinator.accounts import actor_of
from coordinator.lifecycle import monitor, threat_plans
from coordinator.models import AuditEntry, Disclosure, InformationItem, PlanAcknowledgement, RaisedEvent, Task, utcnow
from tests.sharing_steps import grant_consent
from tests.web.support import whole_case

TODAY = dt.date.today()
TEAM = ["education", "police", "health", "social_work"]
REFERRAL = {
    "kind": "threat_assessment", "judgement_level": "high", "judgement_reasons": "a specific threat to a classmate",
    "concern": "Said he would bring a weapon to school after being excluded from the team",
    "people": [{"role": "subject", "name": "Sam"}, {"role": "target", "name": "Alex", "target_kind": "person"},
               {"role": "target", "name": "Year 10 science class", "target_kind": "group"}],
    "agencies": TEAM, "lead_agency": "education",
}
SUSPENSION = {"strategy": "subject.discipline.separation", "detail": "Suspension", "agency": "education"}
PROTECTIVE_ORDER = {"strategy": "subject.discipline.containment", "detail": "Court-issued protective orders",
                    "agency": "police"}
WARNING = ("may risk triggering an immediate or delayed violent response unless they are coupled with containment "
           "and support")
GRIEVANCE = "Says the coach humiliated him in front of the team"


@pytest.fixture
async def team(people, make_user):
    return people | {"education": await make_user("tat", "education")}


async def open_case(chair) -> dict:
    response = await chair.post("/api/cases", json=REFERRAL)
    assert response.status_code == 201, response.text
    return response.json()


async def add_item(client, case_id: int, **item) -> dict:
    response = await client.post(f"/api/cases/{case_id}/plan", json=item)
    assert response.status_code == 201, response.text
    return response.json()


async def plan_items(sessionmaker) -> int:
    async with sessionmaker() as session:
        return (await session.execute(
            select(func.count()).select_from(Task).where(Task.strategy.is_not(None)))).scalar()


async def test_the_referral_form_opens_a_case_with_its_targets_concern_and_the_schools_task_list(client_for, team):
    chair = await client_for("chair")
    page = await chair.post("/cases", data={
        "kind": "threat_assessment", "subject_name": "Sam", "concern": REFERRAL["concern"],
        "target_name_0": "Alex", "target_kind_0": "person", "target_name_1": "Gym hall", "target_kind_1": "place",
        "judgement_level": "high", "judgement_reasons": "specific threat", "agencies": ["education", "police"],
        "lead_agency": "education"})
    assert page.status_code == 200, page.text
    assert REFERRAL["concern"] in page.text and "Alex (person)" in page.text and "Gym hall (place)" in page.text
    case_id = int(str(page.url).rsplit("/", 1)[1])
    tasks = (await chair.get(f"/cases/{case_id}/tasks")).text
    assert "Document all further contacts with the subject and the target in the contact log" in tasks
    case = (await chair.get(f"/api/cases/{case_id}")).json()
    assert sorted((p["role"], p["name"], p["target_kind"]) for p in case["people"]) == [
        ("subject", "Sam", None), ("target", "Alex", "person"), ("target", "Gym hall", "place")]


async def test_a_plan_across_the_four_domains_is_chosen_from_the_catalogue(client_for, team):
    chair = await client_for("chair")
    case = await open_case(chair)
    due = (TODAY + dt.timedelta(days=7)).isoformat()
    for item in ({"strategy": "subject.communication", "agency": "education", "assignee_id": team["education"].id},
                 {"strategy": "target.vary_routine", "agency": "police"},
                 {"strategy": "environment.bullying_prevention", "agency": "education"},
                 {"strategy": "precipitating_events.anniversary", "agency": "social_work"},
                 {"strategy": "subject.counseling", "detail": "Outpatient counseling/mental health care",
                  "agency": "health"}):
        await add_item(chair, case["id"], due_on=due, review_on=due, **item)
    plan = (await chair.get(f"/api/cases/{case['id']}/plan")).json()
    assert [(i["domain"], i["agency"], i["title"]) for i in plan["items"]] == [
        ("subject", "education", "Maintain channel of communication and engagement (with subject)"),
        ("target", "police", "Vary routine"),
        ("environment", "education", "Bullying prevention/intervention programs"),
        ("precipitating_events", "social_work", "Anniversary events, e.g., date of beginning of relationship, date "
         "of end of relationship, date served with court orders/separation documents, birthdays, holidays"),
        ("subject", "health", "Counseling/mental health services: Outpatient counseling/mental health care")]
    assert {(i["due_on"], i["review_on"], i["status"], i["source"]) for i in plan["items"]} == {
        (due, due, "open", "plan")}
    assert plan["items"][0]["assignee_id"] == team["education"].id and plan["warning"] is None
    page = (await whole_case(chair, case['id'])).text
    for heading in ("S · De-escalate, contain, or control the subject", "T · Decrease vulnerabilities of the target",
                    "E · Modify physical and cultural environment", "P · Prepare for and mitigate against"):
        assert heading in page
    assert "Vary routine" in page and "Provide feedback and mentoring" in page  # chosen, and offered


@pytest.mark.parametrize(("change", "field"), [
    ({"strategy": "subject.no_such_strategy"}, "strategy"),
    ({"detail": "Expulsion for a year"}, "detail"),
    ({"agency": "police"}, "agency"),  # the police do not suspend pupils
    ({"agency": "housing"}, "agency"),  # not on the case, and delivers nothing
    ({"due_on": (TODAY - dt.timedelta(days=1)).isoformat()}, "due_on"),
    ({"review_on": "2001-01-01"}, "review_on"),
    ({"assignee_id": 999_999}, "assignee_id"),
    ({"detail": "Suspension\x00"}, "detail"),
])
async def test_a_plan_item_breaking_a_rule_is_refused_naming_the_field_and_writes_nothing(
        client_for, team, sessionmaker, change, field):
    chair = await client_for("chair")
    case = await open_case(chair)
    refused = await chair.post(f"/api/cases/{case['id']}/plan",
                               json=SUSPENSION | {"keep_reason": "supervised at home"} | change)
    assert refused.status_code == 400, refused.text
    assert refused.json()["field"] == field
    assert await plan_items(sessionmaker) == 0


async def test_a_plan_item_is_a_task_only_its_agency_or_a_coordinator_adds_or_changes(client_for, team):
    chair, officer, doctor = await client_for("chair"), await client_for("pc"), await client_for("doc")
    case = await open_case(chair)
    refused = await doctor.post(f"/api/cases/{case['id']}/plan", json={"strategy": "target.vary_routine",
                                                                              "agency": "police"})
    assert refused.status_code == 403, refused.text
    item = (await add_item(officer, case["id"], strategy="target.vary_routine", agency="police"))["item_id"]
    assert (await doctor.patch(f"/api/tasks/{item}", json={"status": "done", "version": 1})).status_code == 403
    done = await officer.patch(f"/api/tasks/{item}", json={"status": "done", "version": 1})
    assert done.status_code == 200, done.text
    plan = (await chair.get(f"/api/cases/{case['id']}/plan")).json()
    assert [i["status"] for i in plan["items"]] == ["done"]


async def test_a_plan_belongs_to_threat_assessment_cases_only(client_for, team, case):
    chair = await client_for("chair")
    refused = await chair.post(f"/api/cases/{case['id']}/plan", json={"strategy": "target.vary_routine",
                                                                             "agency": "police"})
    assert refused.status_code == 409 and "not a threat-assessment case" in refused.json()["detail"]
    assert "Case management plan" not in (await whole_case(chair, case['id'])).text


async def test_a_separation_without_containment_or_support_warns_and_keeping_it_needs_a_recorded_reason(
        client_for, team, sessionmaker, registry):
    chair, school = await client_for("chair"), await client_for("tat")
    case = await open_case(chair)
    unexplained = await school.post(f"/api/cases/{case['id']}/plan", json=SUSPENSION)
    assert unexplained.status_code == 400 and unexplained.json()["field"] == "keep_reason"
    assert WARNING in unexplained.json()["detail"]
    assert await plan_items(sessionmaker) == 0

    reason = "Parents supervise him at home for the three days; the counsellor calls daily"
    kept = await add_item(school, case["id"], keep_reason=reason, **SUSPENSION)
    assert kept["warning"]["separations"] == ["Disciplinary measures"]
    assert kept["warning"]["kept"]["reason"] == reason and kept["warning"]["kept"]["by"] == "Tat"
    page = (await whole_case(chair, case['id'])).text
    assert WARNING in page and reason in page

    while_kept = utcnow()
    coupled = await add_item(chair, case["id"], **PROTECTIVE_ORDER)
    assert coupled["warning"] is None
    assert WARNING not in (await whole_case(chair, case['id'])).text

    # The containment set aside: the plan is back to a separation alone, a plan no reason was given for.
    order = coupled["item_id"]
    aside = await chair.patch(f"/api/tasks/{order}", json={"status": "not_applicable", "version": 1,
                                                          "reason": "the court refused the order"})
    assert aside.status_code == 200, aside.text
    plan = (await chair.get(f"/api/cases/{case['id']}/plan")).json()
    assert plan["warning"]["kept"] is None
    assert "No reason is recorded for keeping the plan this way" in (await whole_case(chair, case['id'])).text
    blank = await school.post(f"/api/cases/{case['id']}/plan/keep", json={"reason": "  "})
    assert blank.status_code == 400 and blank.json()["field"] == "reason"
    again = await school.post(f"/api/cases/{case['id']}/plan/keep", json={"reason": "order refused; daily calls"})
    assert again.status_code == 200 and again.json()["warning"]["kept"]["reason"] == "order refused; daily calls"
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(PlanAcknowledgement))).scalar() == 2
        # The minutes give the plan as it stood when the meeting ended: then, the separation and its reason.
        stood = await threat_plans.plan_warning(session, registry, case["id"], at=while_kept)
        assert stood.kept.reason == reason
        audited = (await session.execute(select(AuditEntry.detail).where(AuditEntry.action == "plan.separation_kept"))
                   ).scalars().all()
    assert all(reason not in str(detail) for detail in audited)  # the audit names the record, not its words


async def test_a_detention_or_a_supported_separation_does_not_warn(client_for, team):
    chair = await client_for("chair")
    case = await open_case(chair)
    detention = await add_item(chair, case["id"], strategy="subject.discipline.containment", detail="Detention",
                               agency="education")
    assert detention["warning"] is None
    supported = await add_item(chair, case["id"], **SUSPENSION)  # detention contains him: no reason asked
    assert supported["warning"] is None
    nothing = await chair.post(f"/api/cases/{case['id']}/plan/keep", json={"reason": "just in case"})
    assert nothing.status_code == 409


async def reviews_due(sessionmaker, on: dt.date, registry) -> int:
    """The monitor run on ``on``; the monitoring reviews raised so far (the agencies' immediate
    duties, overdue by then, raise events of their own)."""
    await monitor.run_once(sessionmaker, registry, on, near_days=14)
    async with sessionmaker() as session:
        return (await session.execute(select(func.count()).where(RaisedEvent.event == "monitoring_review_due"))).scalar()


async def test_long_term_monitoring_brings_the_case_back_at_each_review(client_for, team, sessionmaker, app):
    chair, school = await client_for("chair"), await client_for("tat")
    case = await open_case(chair)
    refused = await school.post(f"/api/cases/{case['id']}/monitoring",
                               json={"version": 1, "status": "long_term", "review_days": 30})
    assert refused.status_code == 403
    no_interval = await chair.post(f"/api/cases/{case['id']}/monitoring", json={"version": 1, "status": "long_term"})
    assert no_interval.status_code == 400 and no_interval.json()["field"] == "review_days"
    long_term = await chair.post(f"/api/cases/{case['id']}/monitoring",
                                json={"version": 1, "status": "long_term", "review_days": 30})
    assert long_term.status_code == 200, long_term.text
    first = TODAY + dt.timedelta(days=30)
    assert long_term.json()["monitoring_review_on"] == first.isoformat() and long_term.json()["closed_at"] is None
    stale = await chair.post(f"/api/cases/{case['id']}/monitoring", json={"version": 1, "status": "active"})
    assert stale.status_code == 409 and stale.json()["field"] == "version"

    assert await reviews_due(sessionmaker, first - dt.timedelta(days=1), app.state.registry) == 0
    assert await reviews_due(sessionmaker, first, app.state.registry) == 1
    assert "its monitoring review is due" in (await chair.get("/")).text

    reviewed = await chair.post(f"/api/cases/{case['id']}/monitoring/review", json={"version": 2})
    assert reviewed.status_code == 200, reviewed.text
    second = first + dt.timedelta(days=30)
    assert reviewed.json()["monitoring_review_on"] == second.isoformat()
    assert await reviews_due(sessionmaker, second, app.state.registry) == 2
    page = (await whole_case(chair, case['id'])).text
    assert f"reviewed every 30 days, next review {second.isoformat()}" in page

    closed = await chair.post(f"/api/cases/{case['id']}/monitoring", json={"version": 3, "status": "closed"})
    assert closed.status_code == 200 and closed.json()["monitoring_review_on"] is None
    not_long_term = await chair.post(f"/api/cases/{case['id']}/monitoring/review", json={"version": 4})
    assert not_long_term.status_code == 409
    interval = await chair.post(f"/api/cases/{case['id']}/monitoring",
                               json={"version": 4, "status": "active", "review_days": 10})
    assert interval.status_code == 400 and interval.json()["field"] == "review_days"


async def test_a_precipitating_event_brings_the_p_items_of_the_plan_up_for_review(client_for, team):
    chair, officer = await client_for("chair"), await client_for("pc")
    case = await open_case(chair)
    later = (TODAY + dt.timedelta(days=20)).isoformat()
    await add_item(chair, case["id"], strategy="precipitating_events.order_violated", agency="police", review_on=later)
    await add_item(chair, case["id"], strategy="subject.grievances", agency="education", review_on=later)
    recorded = await officer.post(f"/api/cases/{case['id']}/events", json={"kind": "loss", "on": TODAY.isoformat()})
    assert recorded.status_code in (200, 201), recorded.text
    plan = (await chair.get(f"/api/cases/{case['id']}/plan")).json()
    assert [(i["domain"], i["review_on"], i["review_now"]) for i in plan["items"]] == [
        ("precipitating_events", TODAY.isoformat(), True), ("subject", later, False)]
    page = (await whole_case(chair, case['id'])).text
    p_item = page.split(f'id="plan-item-{plan["items"][0]["id"]}"')[1].split("</li>")[0]
    s_item = page.split(f'id="plan-item-{plan["items"][1]["id"]}"')[1].split("</li>")[0]
    assert "Review now" in p_item and "Review now" not in s_item


async def log_contact(client, case_id: int, **fields):  # noqa: ANN201
    return await client.post(f"/api/cases/{case_id}/contact-log", json={
        "about": "subject", "on": TODAY.isoformat(), "who": "School counsellor", "channel": "in_person",
        "reaction": "Calm, then angry when the team was mentioned", "grievances": GRIEVANCE} | fields)


CONTACT_PATHS = ["/cases/{id}", "/cases/{id}/items", "/cases/{id}/export.html", "/api/cases/{id}/items",
                 "/api/cases/{id}/export", "/api/cases/{id}/contact-log"]


async def test_the_contact_log_is_withheld_from_an_agency_without_a_basis_on_every_path(
        client_for, team, sessionmaker):
    chair, school, officer = await client_for("chair"), await client_for("tat"), await client_for("pc")
    case = await open_case(chair)
    logged = await log_contact(school, case["id"])
    assert logged.status_code == 201, logged.text
    assert logged.json()["entry"]["grievances"] == GRIEVANCE and logged.json()["agency"] == "education"
    page = (await whole_case(school, case['id'])).text
    assert "Grievances raised" in page and GRIEVANCE in page  # the owner sees the entry in its parts

    for path in CONTACT_PATHS:
        response = await officer.get(path.format(id=case["id"]))
        assert response.status_code == 200, (path, response.text)
        assert GRIEVANCE not in response.text and "Calm, then angry" not in response.text, path
    [withheld] = (await officer.get(f"/api/cases/{case['id']}/contact-log")).json()
    assert (withheld["withheld"], withheld["entry"], withheld["text"]) == (True, None, None)
    page = (await whole_case(officer, case['id'])).text
    assert "Withheld:</strong> a contact-log entry, held by Education" in page
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(Disclosure))).scalar() == 0

    await grant_consent(chair, case["id"], ["case.contact_log"], ["police"])
    [shown] = (await officer.get(f"/api/cases/{case['id']}/contact-log")).json()
    assert shown["entry"]["grievances"] == GRIEVANCE and shown["basis"].startswith("consent:")
    async with sessionmaker() as session:
        disclosed = (await session.execute(select(Disclosure.viewer_agency, Disclosure.channel))).all()
    assert ("police", "api") in disclosed


async def test_only_the_team_logs_contacts_and_bad_entries_are_refused_naming_the_field(
        client_for, team, sessionmaker, make_user):
    chair, school, housing = await client_for("chair"), await client_for("tat"), await client_for("hou")
    case = await open_case(chair)
    assert (await log_contact(housing, case["id"])).status_code == 404  # not on the case: it does not exist
    await make_user("admin", None, "admin")
    admin = await client_for("admin")  # sees every case, but holds no information of an agency's
    assert (await log_contact(admin, case["id"])).status_code == 403
    assert (await housing.get(f"/api/cases/{case['id']}/contact-log")).status_code == 404
    for fields, field in (({"on": (TODAY + dt.timedelta(days=1)).isoformat()}, "on"), ({"who": " "}, "who"),
                          ({"channel": "carrier_pigeon"}, "channel"), ({"about": "parent"}, "about"),
                          ({"grievances": "a\x00b"}, "grievances")):
        refused = await log_contact(school, case["id"], **fields)
        assert refused.status_code == 400 and refused.json()["field"] == field, (fields, refused.text)
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(InformationItem))).scalar() == 0


async def test_the_page_forms_do_the_same_and_come_back_with_the_message_beside_the_form(client_for, team):
    chair, school = await client_for("chair"), await client_for("tat")
    case = await open_case(chair)
    suspension = {"strategy": "subject.discipline.separation|Suspension", "agency": "education"}
    refused = await school.post(f"/cases/{case['id']}/plan", data=suspension)
    assert refused.status_code == 400 and "Not saved:" in refused.text and WARNING in refused.text
    added = await school.post(f"/cases/{case['id']}/plan", data=suspension | {"keep_reason": "at home"})
    assert added.status_code == 200 and "Kept so, recorded by Tat" in added.text
    logged = await school.post(f"/cases/{case['id']}/contact-log", data={
        "about": "target", "on": TODAY.isoformat(), "who": "Assistant principal", "channel": "phone",
        "grievances": GRIEVANCE})
    assert logged.status_code == 200 and GRIEVANCE in logged.text
    monitoring = await chair.post(f"/cases/{case['id']}/monitoring", data={"version": "1", "status": "long_term",
                                                                          "review_days": "90"})
    assert monitoring.status_code == 200 and "reviewed every 90 days" in monitoring.text


async def test_the_demo_case_has_a_plan_in_all_four_domains(client_for, team, sessionmaker, registry):
    async with sessionmaker() as session:
        chair = actor_of(team["chair"])
        members = {"education": actor_of(team["education"]), "police": actor_of(team["police"])}
        case = await threat_demo.open_demo_case(session, registry, chair, members, TODAY)
        await session.commit()
    client = await client_for("chair")
    plan = (await client.get(f"/api/cases/{case.id}/plan")).json()
    assert {i["domain"] for i in plan["items"]} == {"subject", "target", "environment", "precipitating_events"}
    assert "Disciplinary measures: Suspension" in [i["title"] for i in plan["items"]]
    assert plan["warning"] is None  # the suspension is coupled with support of the subject
    assert (await client.get(f"/api/cases/{case.id}")).json()["lead_agency"] == "education"
    assert len((await client.get(f"/api/cases/{case.id}/contact-log")).json()) == 1
    opened = (await client.get(f"/api/cases/{case.id}")).json()
    assert opened["reported_by"] == "Two classmates" and opened["reported_at"] is not None
    screenings = (await client.get(f"/api/cases/{case.id}/screening")).json()["history"]
    assert [(s["version"], s["level"]) for s in screenings] == [(2, "substantive_serious"), (1, "transient")]


async def test_the_conference_and_its_minutes_show_the_separation_warning_and_the_reason_kept(
        client_for, team, people, live_channels):
    chair, school = await client_for("chair"), await client_for("tat")
    case = await open_case(chair)
    reason = "Parents supervise him at home for the three days"
    await add_item(school, case["id"], keep_reason=reason, **SUSPENSION)
    scheduled = await chair.post("/api/conferences", json={
        "title": "TAT review", "scheduled_at": "2030-01-07T10:00:00Z", "chair_id": people["chair"].id,
        "case_ids": [case["id"]]})
    assert scheduled.status_code == 201, scheduled.text
    url = f"/api/conferences/{scheduled.json()['id']}"
    assert (await chair.post(f"{url}/statement")).status_code == 200
    assert (await chair.post(f"{url}/start", json={"version": 1})).status_code == 200
    page = (await chair.get(f"/conferences/{scheduled.json()['id']}")).text
    assert WARNING in page and reason in page
    state = (await chair.get(url)).json()["conference"]
    assert (await chair.post(f"{url}/end", json={"version": state["version"]})).status_code == 200
    for minutes in (f"/conferences/{scheduled.json()['id']}/minutes", f"/conferences/{scheduled.json()['id']}/minutes.md"):
        answer = (await chair.get(minutes)).text
        assert reason in answer and "Separation without containment or support" in answer, minutes


async def test_only_an_agency_delivering_the_plan_or_a_coordinator_says_why_it_is_kept(client_for, team):
    chair, school, doctor = await client_for("chair"), await client_for("tat"), await client_for("doc")
    case = await open_case(chair)
    await add_item(school, case["id"], keep_reason="supervised at home", **SUSPENSION)
    refused = await doctor.post(f"/api/cases/{case['id']}/plan/keep", json={"reason": "health agrees"})
    assert refused.status_code == 403 and "delivers an item of the plan" in refused.json()["detail"]
    assert "Record a new reason" not in (await doctor.get(f"/cases/{case['id']}/threat-plan")).text  # the page reads the rule
    assert "Record a new reason" in (await school.get(f"/cases/{case['id']}/threat-plan")).text
    kept = await school.post(f"/api/cases/{case['id']}/plan/keep", json={"reason": "still supervised"})
    assert kept.status_code == 200, kept.text
