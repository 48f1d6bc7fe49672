"""One test per case event hook and per shared-duty and strategy hook, each through what a user
notices: the event raised by the change or the monitor run that brings it, probation's task
arriving on the case, and nothing raised twice."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import func, select, update

from coordinator.lifecycle import monitor
from coordinator.models import Case, FollowUp, HearingRequest, InformationItem, RaisedEvent
from tests.unit.conftest import task_titles
from tests.web.support import whole_case

TODAY = dt.date.today()


async def run_monitor(sessionmaker, app, today: dt.date = TODAY) -> int:
    return await monitor.run_once(sessionmaker, app.state.registry, today, near_days=14)


async def reactions(chair, case_id: int, hook: str) -> list[str]:
    return [t for t in await task_titles(chair, case_id, "probation") if t.startswith(f"Probation reacts to {hook}")]


async def case_with(chair, *, key_dates=(), agencies=("police", "probation"), **fields) -> dict:
    response = await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "people": [{"role": "survivor", "name": "Nora"}], "agencies": list(agencies),
        "key_dates": [{"kind": kind, "on": on.isoformat()} for kind, on in key_dates],
        **({"checklist_score": 15} | fields)})
    assert response.status_code == 201, response.text
    return response.json()


async def test_hook_case_risk_raised_answers_a_reassessment_that_raises_the_level(client_for, staff):
    chair = await client_for("chair")
    case = await case_with(chair, checklist_score=11, incidents_last_12_months=3)  # escalation, medium risk
    assert case["risk_level"] == "medium"
    raised = await chair.post(f"/api/cases/{case['id']}/risk", json={
        "version": case["version"], "checklist_score": 16, "reason": "new assault disclosed"})
    assert raised.status_code == 201, raised.text
    assert raised.json()["risk_level"] == "high"
    assert await reactions(chair, case["id"], "risk_raised") == ["Probation reacts to risk_raised medium high"]

    lowered = await chair.post(f"/api/cases/{case['id']}/risk", json={
        "version": raised.json()["version"], "checklist_score": 9, "reason": "perpetrator moved abroad"})
    assert lowered.json()["risk_level"] == "standard"
    assert len(await reactions(chair, case["id"], "risk_raised")) == 1  # a fall raises nothing


async def test_hook_case_threat_level_raised_answers_a_re_classification_above_the_last(client_for, staff):
    police = await client_for("pc")  # a team member, not a coordinator, opens the case from a report
    case = await case_with(police, kind="threat_assessment", checklist_score=None,
                           people=[{"role": "subject", "name": "Sam"},
                                   {"role": "target", "name": "Alex", "target_kind": "person"}])
    url = f"/api/cases/{case['id']}/screening"
    for version, level in enumerate(("substantive_serious", "transient", "substantive_very_serious")):
        classified = await police.post(url, json={"version": version, "level": level, "reasons": "seen"})
        assert classified.status_code == 201, classified.text
    # The first screening and a fall raise nothing; the rise from transient raises the event once.
    assert await reactions(police, case["id"], "threat_level_raised") == [
        "Probation reacts to threat_level_raised transient substantive_very_serious"]


async def test_hook_case_screening_overdue_is_raised_once_for_a_report_not_screened_in_time(
        client_for, staff, sessionmaker, app):
    police = await client_for("pc")
    reported = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(microsecond=0)
    report = {"kind": "threat_assessment", "checklist_score": None, "reported_at": reported.isoformat(),
              "people": [{"role": "subject", "name": "Sam"}, {"role": "target", "name": "Alex", "target_kind": "person"}]}
    late, screened = await case_with(police, **report), await case_with(police, **report)
    assert dt.datetime.fromisoformat(late["screening_due_at"]) < dt.datetime.now(dt.UTC)
    classified = await police.post(f"/api/cases/{screened['id']}/screening", json={
        "version": 0, "level": "transient", "reasons": "seen late"})
    assert classified.status_code == 201, classified.text
    assert await run_monitor(sessionmaker, app) == 1
    assert await run_monitor(sessionmaker, app) == 0  # raised once, however often the monitor runs
    assert await reactions(police, late["id"], "screening_overdue") == [
        f"Probation reacts to screening_overdue {late['screening_due_at']}".replace("Z", "+00:00")]
    assert await reactions(police, screened["id"], "screening_overdue") == []


async def test_hook_case_key_date_near_is_raised_once_within_the_window(client_for, staff, sessionmaker, app):
    chair = await client_for("chair")
    release = TODAY + dt.timedelta(days=10)
    far = TODAY + dt.timedelta(days=40)
    case = await case_with(chair, key_dates=[("release_from_custody", release), ("hearing", far)])
    assert await run_monitor(sessionmaker, app) == 1
    assert await run_monitor(sessionmaker, app) == 0  # raised once, however often the monitor runs
    assert await reactions(chair, case["id"], "key_date_near") == [
        f"Probation reacts to key_date_near release_from_custody {release.isoformat()} 10"]
    police = await task_titles(chair, case["id"], "police")
    assert f"Release from custody on {release.isoformat()}: tell the victim and review the safety plan" in police
    async with sessionmaker() as session:
        queued = (await session.execute(select(HearingRequest.reason).where(
            HearingRequest.case_id == case["id"]))).scalars().all()
    assert queued == ["a key date is near"]  # back on the next agenda, with the reason
    assert "a key date is near" in (await chair.get("/")).text
    scheduled = await chair.post("/api/conferences", json={
        "title": "MARAC", "scheduled_at": "2030-01-07T10:00:00Z", "chair_id": staff["chair"].id,
        "case_ids": [case["id"]]})
    assert scheduled.status_code == 201, scheduled.text
    assert "a key date is near" not in (await chair.get("/")).text  # placed on an agenda: the queue is answered


async def test_hook_case_anniversary_recurs_and_is_caught_up_after_the_monitor_was_down(
        client_for, staff, sessionmaker, app):
    chair = await client_for("chair")
    three_days_ago = TODAY - dt.timedelta(days=3)
    started = three_days_ago.replace(year=three_days_ago.year - 5)
    case = await case_with(chair, key_dates=[("relationship_start", started)])
    await run_monitor(sessionmaker, app, today=TODAY - dt.timedelta(days=6))  # then down for six days
    assert await reactions(chair, case["id"], "anniversary") == []
    await run_monitor(sessionmaker, app)
    assert await reactions(chair, case["id"], "anniversary") == ["Probation reacts to anniversary relationship_start 5"]


async def test_hook_case_order_violated_is_raised_when_someone_records_it(client_for, staff):
    chair, officer = await client_for("chair"), await client_for("pc")
    case = await case_with(chair)
    recorded = await officer.post(f"/api/cases/{case['id']}/events", json={
        "kind": "order_violated", "on": TODAY.isoformat(), "note": "seen outside the school"})
    assert recorded.status_code == 201, recorded.text
    assert await reactions(chair, case["id"], "order_violated") == [f"Probation reacts to order_violated {TODAY}"]
    police = await task_titles(chair, case["id"], "police")
    assert "Respond to the violation of the restraining order and review the safety plan" in police
    again = await officer.post(f"/api/cases/{case['id']}/events", json={"kind": "order_violated", "on": TODAY.isoformat()})
    assert again.status_code == 409 and again.json()["field"] == "kind"


async def test_hook_case_precipitating_event_is_raised_at_once_for_each_kind(client_for, staff):
    chair, officer = await client_for("chair"), await client_for("pc")
    case = await case_with(chair)
    for kind in ("loss", "contagion"):
        recorded = await officer.post(f"/api/cases/{case['id']}/events", json={"kind": kind, "on": TODAY.isoformat()})
        assert recorded.status_code == 201, recorded.text
    assert await reactions(chair, case["id"], "precipitating_event") == [
        f"Probation reacts to precipitating_event loss {TODAY}", f"Probation reacts to precipitating_event contagion {TODAY}"]
    future = await officer.post(f"/api/cases/{case['id']}/events", json={
        "kind": "loss", "on": (TODAY + dt.timedelta(days=1)).isoformat()})
    assert future.status_code == 400 and future.json()["field"] == "on"


async def _follow_up(sessionmaker, case_id: int, user_id: int, planned_on: dt.date) -> None:
    async with sessionmaker() as session:
        session.add(FollowUp(case_id=case_id, agency="probation", planned_on=planned_on, method="phone",
                             safe_to_call=True, created_by_id=user_id))
        await session.commit()


async def test_hook_case_follow_up_due_is_raised_on_the_day(client_for, staff, sessionmaker, app):
    chair = await client_for("chair")
    case = await case_with(chair)
    await _follow_up(sessionmaker, case["id"], staff["chair"].id, TODAY)
    await run_monitor(sessionmaker, app)
    assert await reactions(chair, case["id"], "follow_up_due") == [f"Probation reacts to follow_up_due probation {TODAY}"]


async def test_hook_case_follow_up_missed_is_raised_once_the_day_passed_without_an_outcome(
        client_for, staff, sessionmaker, app):
    chair = await client_for("chair")
    case = await case_with(chair)
    yesterday = TODAY - dt.timedelta(days=1)
    await _follow_up(sessionmaker, case["id"], staff["chair"].id, yesterday)
    await run_monitor(sessionmaker, app)
    await run_monitor(sessionmaker, app)
    assert await reactions(chair, case["id"], "follow_up_missed") == [
        f"Probation reacts to follow_up_missed probation {yesterday}"]


async def test_hook_case_task_overdue_is_raised_for_the_owning_agency(client_for, staff, sessionmaker, app):
    chair = await client_for("chair")
    case = await case_with(chair)
    due = TODAY - dt.timedelta(days=2)
    assigned = await chair.post(f"/api/cases/{case['id']}/tasks", json={
        "agency": "probation", "title": "Check the address", "domain": "perpetrator", "due_on": due.isoformat()})
    assert assigned.status_code == 201, assigned.text
    await run_monitor(sessionmaker, app)
    await run_monitor(sessionmaker, app)
    assert await reactions(chair, case["id"], "task_overdue") == [f"Probation reacts to task_overdue probation {due}"]


async def test_hook_case_safety_plan_review_due_is_raised_when_the_plan_is_past_its_review_date(
        client_for, staff, sessionmaker, app):
    chair = await client_for("chair")
    case = await case_with(chair)
    review_on = TODAY - dt.timedelta(days=1)
    async with sessionmaker() as session:
        session.add(InformationItem(case_id=case["id"], agency="police", category="case.safety_plan", nature="fact",
                                    sensitivity="high", text="{}", recorded_by_id=staff["police"].id,
                                    review_on=review_on))
        await session.commit()
    await run_monitor(sessionmaker, app)
    assert await reactions(chair, case["id"], "safety_plan_review_due") == [
        f"Probation reacts to safety_plan_review_due {review_on}"]


async def test_hook_case_monitoring_review_due_brings_a_long_term_case_back_at_its_review(
        client_for, staff, sessionmaker, app):
    chair = await client_for("chair")
    case = await case_with(chair, kind="threat_assessment", checklist_score=None, judgement_level="high",
                           judgement_reasons="specific threat")
    async with sessionmaker() as session:
        await session.execute(update(Case).where(Case.id == case["id"]).values(
            monitoring_status="long_term", monitoring_review_days=90, monitoring_review_on=TODAY))
        await session.commit()
    await run_monitor(sessionmaker, app)
    assert await reactions(chair, case["id"], "monitoring_review_due") == [
        f"Probation reacts to monitoring_review_due {TODAY}"]
    assert "its monitoring review is due" in (await chair.get("/")).text


async def test_hook_agency_shared_duties_give_one_holder_that_moves_with_the_role_map(client_for, staff):
    chair, officer = await client_for("chair"), await client_for("pc")
    release = TODAY + dt.timedelta(days=60)
    case = await case_with(chair, key_dates=[("release_from_custody", release)], agencies=("police", "health"))
    duty = "Inform the victim when the perpetrator will be released from custody"
    tasks = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
    assert [(t["agency"], t["duty"]) for t in tasks if t["title"] == duty] == [("police", "release_notice")]

    given = await chair.post(f"/api/cases/{case['id']}/roles", json={
        "responsibility": "victim_contact", "agency": "health", "version": 0})
    assert given.status_code == 201, given.text
    tasks = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()
    assert [t["agency"] for t in tasks if t["title"] == duty] == ["health"]  # the duty moved with the role
    page = await whole_case(officer, case['id'])
    assert f"{duty}: <em>held by Health care</em>" in page.text


async def test_hook_agency_services_are_the_agencys_entries_for_the_directory(app):
    [service] = app.state.registry.get("probation").services
    assert (service.name, service.kind, service.area) == ("Victim liaison", "support", "North")


async def test_hook_agency_strategies_are_declared_with_their_domain_and_kind(app):
    [strategy] = app.state.registry.get("probation").strategies
    assert (strategy.domain, strategy.kind) == ("subject", "containment")


async def test_an_event_raised_by_two_monitor_runs_at_once_is_stored_once(client_for, staff, sessionmaker, app):
    chair = await client_for("chair")
    await case_with(chair, key_dates=[("hearing", TODAY + dt.timedelta(days=3))])
    counts = await asyncio.gather(run_monitor(sessionmaker, app), run_monitor(sessionmaker, app))
    assert sorted(counts) == [0, 1]
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(RaisedEvent).where(
            RaisedEvent.event == "key_date_near"))).scalar() == 1
