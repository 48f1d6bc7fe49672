"""A school's threat-assessment team works a case from the first report: any member of the team opens it
(a low-level concern too), the team screens and re-classifies it (each version kept, a rise raising its
event once), immediate danger puts the emergency steps first, and the team shares within itself on its
recorded basis."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from coordinator.models import AuditEntry, Disclosure, RaisedEvent
from coordinator.settings import Settings
from tests.web.support import published_events, whole_case

TEAM = ["education", "police", "health"]
REPORT = {
    "kind": "threat_assessment", "reported_by": "A classmate", "report_place": "Science corridor",
    "concern": "Said the science class would be sorry, then laughed it off",
    "people": [{"role": "subject", "name": "Sam"}, {"role": "target", "name": "Year 10 science", "target_kind": "group"}],
    "agencies": TEAM, "lead_agency": "education",
}


async def report(client, **fields) -> dict:
    response = await client.post("/api/cases", json=REPORT | fields)
    assert response.status_code == 201, response.text
    return response.json()


async def classify(client, case_id: int, version: int, level: str, participants=(), reasons="the team's reasons"):
    return await client.post(f"/api/cases/{case_id}/screening", json={
        "version": version, "level": level, "reasons": reasons, "participants": list(participants)})


async def test_a_team_member_opens_a_case_from_a_low_level_report_and_an_outsider_cannot(client_for, team):
    school, housing = await client_for("tat"), await client_for("hou")
    case = await report(school)  # no checklist, no judgement: a low-level concern is still a case
    assert (case["reported_by"], case["report_place"], case["immediate_danger"]) == (
        "A classmate", "Science corridor", False)
    assert case["reported_at"] is not None and "report" in case["referral_grounds"]
    refused = await housing.post("/api/cases", json=REPORT)  # housing is not on the team it names
    assert refused.status_code == 403 and "member of its team" in refused.json()["detail"]
    domestic = await school.post("/api/cases", json={"kind": "domestic_abuse", "checklist_score": 16,
                                                     "people": [{"role": "survivor", "name": "Nora"}],
                                                     "agencies": ["education"]})
    assert domestic.status_code == 403 and "coordinator" in domestic.json()["detail"]


async def test_immediate_danger_shows_the_emergency_steps_first(client_for, team):
    school = await client_for("tat")
    danger, calm = await report(school, immediate_danger=True), await report(school)
    page = (await school.get(f"/cases/{danger['id']}")).text
    assert "the team's emergency steps" in page
    assert page.index("Call the emergency services") < page.index("Case " + danger["reference"])
    assert "emergency steps" not in (await school.get(f"/cases/{calm['id']}")).text


async def test_screened_then_re_classified_up_raises_its_event_once_and_keeps_both_versions(
        client_for, team, sessionmaker):
    school, officer, housing = await client_for("tat"), await client_for("pc"), await client_for("hou")
    case = await report(school)
    first = await classify(school, case["id"], 0, "transient", [team["education"].id, team["police"].id],
                           reasons="a figure of speech, resolved with an apology")
    assert first.status_code == 201, first.text
    assert [(s["version"], s["level"], s["participants"]) for s in first.json()["history"]] == [
        (1, "transient", ["Tat", "Pc"])]

    stale = await classify(officer, case["id"], 0, "substantive_serious")
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    raised = await classify(officer, case["id"], 1, "substantive_serious", reasons="he named a classmate since")
    assert raised.status_code == 201, raised.text
    again = await classify(officer, case["id"], 2, "substantive_serious", reasons="reviewed: unchanged")
    assert again.status_code == 201
    history = (await school.get(f"/api/cases/{case['id']}/screening")).json()["history"]
    assert [(s["version"], s["level"]) for s in history] == [
        (3, "substantive_serious"), (2, "substantive_serious"), (1, "transient")]
    async with sessionmaker() as session:
        events = (await session.execute(select(RaisedEvent.event).where(RaisedEvent.case_id == case["id"]))).all()
        screened = (await session.execute(select(func.count()).select_from(AuditEntry)
                                          .where(AuditEntry.action == "case.screened"))).scalar()
    assert events == [("threat_level_raised",)] and screened == 3

    page = (await whole_case(school, case["id"])).text
    assert "Classified Substantive serious" in page and "a figure of speech, resolved with an apology" in page

    for bad, field in (({"level": "catastrophic"}, "level"), ({"reasons": "  "}, "reasons"),
                       ({"participants": [team["housing"].id]}, "participants")):
        refused = await school.post(f"/api/cases/{case['id']}/screening", json={
            "version": 3, "level": "transient", "reasons": "x"} | bad)
        assert refused.status_code == 400 and refused.json()["field"] == field, (bad, refused.text)
    outsider = await classify(housing, case["id"], 3, "transient")
    assert outsider.status_code == 404


async def test_the_page_form_screens_the_report(client_for, team):
    counsellor = await client_for("counsellor")
    case = await report(counsellor)
    page = await counsellor.post(f"/cases/{case['id']}/screening", data={
        "version": "0", "level": "substantive_very_serious", "reasons": "a plan and a weapon named",
        "participants": [str(team["counsellor"].id)]})
    assert page.status_code == 200, page.text
    assert "Classified Substantive very serious" in page.text and "Counsellor" in page.text
    refused = await counsellor.post(f"/cases/{case['id']}/screening", data={"version": "1", "level": "nope",
                                                                           "reasons": "x"})
    assert refused.status_code == 400 and "the level must be one of" in refused.text


CONTACT_PATHS = ["/cases/{id}/threat-plan", "/cases/{id}/items", "/cases/{id}/export.html", "/api/cases/{id}/items",
                 "/api/cases/{id}/export", "/api/cases/{id}/contact-log"]
GRIEVANCE = "Says the coach humiliated him in front of the team"


async def sees_contact_log(client, case_id: int) -> list[bool]:
    """Whether the entry's text reaches the reader, on each read path the contact log has."""
    seen = []
    for path in CONTACT_PATHS:
        response = await client.get(path.format(id=case_id))
        assert response.status_code == 200, (path, response.text)
        seen.append(GRIEVANCE in response.text)
    return seen


async def test_the_team_shares_within_itself_on_its_recorded_basis_and_no_further(client_for, team, sessionmaker, app):
    school, officer = await client_for("tat"), await client_for("pc")
    chair, supervisor = await client_for("chair"), await client_for("supervisor")  # social work: not on the team
    case = await report(school)
    logged = await school.post(f"/api/cases/{case['id']}/contact-log", json={
        "about": "subject", "on": case["created_at"][:10], "who": "School counsellor", "channel": "in_person",
        "grievances": GRIEVANCE})
    assert logged.status_code == 201, logged.text
    assert await sees_contact_log(officer, case["id"]) == [False] * len(CONTACT_PATHS)  # no basis yet

    url = f"/api/cases/{case['id']}/team-basis"
    assert (await officer.post(url, json={"legal_basis": "duty_of_care"})).status_code == 403  # not the approver
    unknown = await supervisor.post(url, json={"legal_basis": "because"})
    assert unknown.status_code == 400 and unknown.json()["field"] == "legal_basis"
    recorded = await supervisor.post(url, json={"legal_basis": "health_or_safety_emergency"})
    assert recorded.status_code == 201, recorded.text
    basis_id = recorded.json()["in_force"]["id"]
    assert (await supervisor.post(url, json={"legal_basis": "duty_of_care"})).status_code == 409  # one in force

    assert await sees_contact_log(officer, case["id"]) == [True] * len(CONTACT_PATHS)
    [entry] = (await officer.get(f"/api/cases/{case['id']}/contact-log")).json()
    assert entry["basis"] == f"team:{basis_id}"
    assert await sees_contact_log(chair, case["id"]) == [False] * len(CONTACT_PATHS)  # outside the team
    async with sessionmaker() as session:
        sightings = (await session.execute(select(Disclosure.viewer_agency, Disclosure.basis, Disclosure.channel)
                                           .where(Disclosure.case_id == case["id"]))).all()
        audited = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "information.disclosed", AuditEntry.case_id == case["id"]))).scalar()
    assert {agency for agency, _, _ in sightings} == {"police"}
    assert {basis for _, basis, _ in sightings} == {f"team:{basis_id}"}
    assert {channel for _, _, channel in sightings} >= {"page", "api", "export"} and audited >= len(CONTACT_PATHS)

    announced = published_events(app.state.sessionmaker)
    removed = await supervisor.post(f"{url}/remove")
    assert removed.status_code == 200 and removed.json()["in_force"] is None
    # Open pages of the case are told the information moved: they re-render through the gate at once.
    assert any(getattr(e, "case_id", None) == case["id"] and "items" in e.parts for e in announced)
    assert await sees_contact_log(officer, case["id"]) == [False] * len(CONTACT_PATHS)  # withdrawn at once
    assert (await supervisor.post(f"{url}/remove")).status_code == 409


async def test_a_team_basis_belongs_to_threat_assessment_cases_only(client_for, team, case):
    supervisor = await client_for("supervisor")
    refused = await supervisor.post(f"/api/cases/{case['id']}/team-basis", json={"legal_basis": "duty_of_care"})
    assert refused.status_code == 409 and "not a threat-assessment case" in refused.json()["detail"]


@pytest.mark.parametrize(("setting", "reported", "due"), [
    ("", "2026-12-04T10:00:00+00:00", "2026-12-04T17:00:00+00:00"),  # a Friday morning: the same school day
    ("17:00", "2026-12-04T18:30:00+00:00", "2026-12-07T17:00:00+00:00"),  # Friday evening: Monday's end of day
    ("15:30", "2026-07-01T13:00:00+00:00", "2026-07-01T14:30:00+00:00"),  # London summer time: 15:30 local
    ("4h", "2026-12-05T22:00:00+00:00", "2026-12-06T02:00:00+00:00"),  # hours run through the weekend
])
def test_the_team_sets_when_a_screening_is_due(setting, reported, due):
    deadline = Settings.from_env({"COORDINATOR_THREAT_SCREENING_DUE": setting}).threat_screening_due
    assert deadline.due(dt.datetime.fromisoformat(reported)) == dt.datetime.fromisoformat(due)


@pytest.mark.parametrize("setting", ["tomorrow", "0h", "25:00", "500h"])
def test_a_screening_deadline_that_is_neither_a_time_nor_hours_stops_start_up(setting):
    with pytest.raises(SystemExit, match="COORDINATOR_THREAT_SCREENING_DUE"):
        Settings.from_env({"COORDINATOR_THREAT_SCREENING_DUE": setting})


async def test_a_report_not_screened_in_time_shows_overdue_to_the_team_until_it_is_screened(client_for, team):
    school = await client_for("tat")
    late = await report(school, reported_at=(dt.datetime.now(dt.UTC) - dt.timedelta(days=4)).isoformat())
    fresh = await report(school)
    assert "Screening overdue" in (await school.get(f"/cases/{late['id']}/threat-plan")).text
    waiting = (await school.get(f"/cases/{fresh['id']}/threat-plan")).text
    assert "Screening due by" in waiting and "Screening overdue" not in waiting
    assert (await classify(school, late["id"], 0, "transient")).status_code == 201
    screened = (await school.get(f"/cases/{late['id']}/threat-plan")).text
    assert "Screening overdue" not in screened and "Screening due by" not in screened


async def test_the_figures_count_the_teams_reports_screenings_and_levels_hiding_small_counts(client_for, team):
    school, chair = await client_for("tat"), await client_for("chair")
    for n in range(5):
        case = await report(school)
        assert (await classify(school, case["id"], 0, "transient")).status_code == 201
    assert (await classify(school, case["id"], 1, "substantive_very_serious")).status_code == 201
    teams = {(f["measure"], f["group"]): f["shown"] for f in (await chair.get("/api/figures")).json()["teams"]}
    assert teams[("threat_reports", "")] == "5"
    assert teams[("screened_in_time", "")] == "all but fewer than 5"  # five of five: the rest would give one away
    assert teams[("report_to_screening", "")] == "0 hours"  # screened at once
    assert teams[("cases_by_level", "Transient")] == "fewer than 5"  # the latest level counts: four
    assert teams[("cases_by_level", "Substantive very serious")] == "fewer than 5"
    page = (await chair.get("/figures")).text
    assert "Threat-assessment teams" in page and "Substantive very serious" in page


async def test_a_team_member_reports_through_the_new_case_form(client_for, team):
    school = await client_for("tat")
    assert "New threat-assessment report" in (await school.get("/")).text
    form = (await school.get("/cases/new")).text
    assert '<option value="threat_assessment" selected>' in form and "Someone is in immediate danger" in form
    assert '<option value="domestic_abuse"' not in form  # a referral is a coordinator's
    assert 'id="risk-checklist"' not in form  # a report has no referral form
    chair_form = (await (await client_for("chair")).get("/cases/new")).text
    assert '<option value="domestic_abuse"' in chair_form and 'id="risk-checklist"' in chair_form
    page = await school.post("/cases", data={
        "kind": "threat_assessment", "subject_name": "Sam", "concern": REPORT["concern"],
        "target_name_0": "Gym hall", "target_kind_0": "place", "reported_by": "The PE teacher",
        "report_place": "Changing rooms", "immediate_danger": "yes", "agencies": ["education", "police"]})
    assert page.status_code == 200, page.text
    assert "the team's emergency steps" in page.text
    case_id = int(str(page.url).rsplit("/", 1)[1])
    assert "by The PE teacher, at Changing rooms" in (await school.get(f"/cases/{case_id}/threat-plan")).text


async def test_a_report_dated_without_a_zone_in_the_future_or_long_ago_is_refused_naming_the_field(client_for, team):
    school = await client_for("tat")
    for when in ("2026-01-02T10:00:00", "2999-01-02T10:00:00+00:00", "0001-01-01T00:00:00+14:00"):
        refused = await school.post("/api/cases", json=REPORT | {"reported_at": when})
        assert refused.status_code == 400 and refused.json()["field"] == "reported_at", (when, refused.text)
    dated = await report(school, reported_at="2026-01-02T10:00:00+01:00")
    assert dated["reported_at"].startswith("2026-01-02T09:00:00")
