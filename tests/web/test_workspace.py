"""The case workspace: each section at its own URL with the navigation between them, growing
sections paged (the latest 20, then more), and a page's cost that does not grow with the case's
past: the statements and rows each section reads are the same for a case with 25 follow-ups and
one with 525 (and 2,000 more task events)."""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from coordinator.models import CaseRevision, FollowUp, RaisedEvent, Task, TaskEvent, utcnow

TODAY = utcnow().date()


async def grow(sessionmaker, case_id: int, by_id: int, *, follow_ups: int, task_events: int, revisions: int,
               raised: int, start: int = 0) -> None:
    """Add history to the case directly: what years of work would leave behind."""
    async with sessionmaker() as session:
        task_ids = (await session.execute(select(Task.id).where(Task.case_id == case_id))).scalars().all()
        session.add_all(FollowUp(case_id=case_id, agency="police", planned_on=TODAY - dt.timedelta(days=start + i),
                                 method="phone", safe_to_call=True, outcome="not_reached",
                                 attempted_on=TODAY - dt.timedelta(days=start + i), created_by_id=by_id)
                        for i in range(follow_ups))
        session.add_all(TaskEvent(task_id=task_ids[i % len(task_ids)], by_id=by_id, status="in_progress",
                                  reason=f"note {start + i}") for i in range(task_events))
        session.add_all(CaseRevision(case_id=case_id, version=1000 + start + i, kind="edit", reason=f"edit {start + i}",
                                     changes="{}", by_id=by_id) for i in range(revisions))
        session.add_all(RaisedEvent(case_id=case_id, event="key_date_near", subject=f"grown:{start + i}",
                                    occurs_on=TODAY, note=f"event {start + i}", by_id=by_id) for i in range(raised))
        await session.commit()


@contextmanager
def counted(engine):
    """Statements sent and ORM rows loaded meanwhile."""
    seen = {"statements": 0, "rows": 0}

    def statement(*args) -> None:
        seen["statements"] += 1

    def row(session, instance) -> None:
        seen["rows"] += 1

    event.listen(engine.sync_engine, "after_cursor_execute", statement)
    event.listen(Session, "loaded_as_persistent", row)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", statement)
        event.remove(Session, "loaded_as_persistent", row)


async def section_urls(client, case_id: int) -> list[str]:
    page = (await client.get(f"/cases/{case_id}")).text
    nav = re.search(r'<nav class="section-nav".*?</nav>', page, re.S).group(0)
    return re.findall(r'href="(/cases/\d+(?:/[a-z-]+)?)"', nav)


async def costs(client, engine, urls: list[str]) -> dict[str, dict]:
    result = {}
    for url in urls:
        with counted(engine) as seen:
            answer = await client.get(url)
        assert answer.status_code == 200, (url, answer.text[:300])
        result[url] = dict(seen)
    return result


async def test_every_section_has_its_own_url_and_the_navigation_marks_where_the_reader_is(client_for, case):
    chair = await client_for("chair")
    urls = await section_urls(chair, case["id"])
    assert urls[0] == f"/cases/{case['id']}" and len(urls) >= 10
    for url in urls:
        page = (await chair.get(url)).text
        current = re.findall(r'<a href="([^"]+)" aria-current="page">', page)
        assert current == [url], (url, current)
    missing = await chair.get(f"/cases/{case['id']}/no-such-section")
    assert missing.status_code in (404, 405)
    # A threat-assessment section is not a section of a domestic-abuse case.
    assert (await chair.get(f"/cases/{case['id']}/threat-plan")).status_code == 404


async def test_growing_sections_show_the_latest_twenty_and_more_on_asking(client_for, case, people, sessionmaker):
    await grow(sessionmaker, case["id"], people["police"].id, follow_ups=25, task_events=0, revisions=25, raised=25)
    chair = await client_for("chair")
    for key, row in (("history", "Version 10"), ("events", "event "), ("follow-ups", 'id="follow-up-')):
        page = (await chair.get(f"/cases/{case['id']}/{key}")).text
        assert "Show 20 more" in page, key
        more = (await chair.get(f"/cases/{case['id']}/{key}?shown=40", headers={"HX-Request": "true"})).text
        assert "Show 20 more" not in more and "<html" not in more, key  # the section alone, all of it
        assert more.count(row) > page.count(row), key
    history = (await chair.get(f"/cases/{case['id']}/history")).text
    assert "edit 24" in history and "edit 4:" not in history  # the latest first


async def test_a_sections_reads_do_not_grow_with_the_cases_history(client_for, case, people, sessionmaker, app):
    chair = await client_for("chair")
    engine = app.state.engine
    by_id = people["police"].id
    urls = await section_urls(chair, case["id"])
    await grow(sessionmaker, case["id"], by_id, follow_ups=25, task_events=25, revisions=25, raised=25)
    before = await costs(chair, engine, urls)
    await grow(sessionmaker, case["id"], by_id, follow_ups=500, task_events=2000, revisions=200, raised=200, start=25)
    after = await costs(chair, engine, urls)
    for url in urls:
        assert after[url] == before[url], (url, before[url], after[url])
    follow_ups = (await chair.get(f"/cases/{case['id']}/follow-ups")).text
    assert len(re.findall(r'id="follow-up-\d+"', follow_ups)) == 20


async def test_the_navigation_shows_each_person_the_areas_they_may_open_with_counts_waiting(client_for, case, people):
    chair, police = await client_for("chair"), await client_for("pc")
    areas = re.compile(r'<nav id="app-nav".*?</nav>', re.S)
    coordinator_nav = areas.search((await chair.get("/")).text).group(0)
    for label in ("Cases", "Conferences", "Referrals", "Directory", "Figures", "Feedback"):
        assert f">{label}" in coordinator_nav, label
    member_nav = areas.search((await police.get("/")).text).group(0)
    assert ">Referrals" in member_nav and ">Figures" not in member_nav and ">Feedback" not in member_nav
    for url in ("/conferences", "/referrals", "/directory", "/feedback"):
        page = await chair.get(url)
        assert page.status_code == 200 and "<html" in page.text, url
    # A referral sent to housing waits for it: housing's navigation counts it, nobody else's.
    referral = (await chair.post(f"/api/cases/{case['id']}/referrals", json={
        "to_agency": "housing", "purpose": "A tenancy", "method": "verbal", "given_by": "Nora",
        "categories": ["police.call_outs"]})).json()
    sent = await chair.post(f"/api/referrals/{referral['id']}/status", json={"status": "sent", "version": referral["version"]})
    assert sent.status_code == 201, sent.text
    housing = await client_for("hou")
    counted = (await housing.get("/nav", headers={"HX-Request": "true"})).text
    assert "<html" not in counted and 'aria-label="1 waiting">1</span>' in counted
    assert "waiting" not in (await police.get("/nav", headers={"HX-Request": "true"})).text


async def test_the_coordinators_dashboard_leads_with_the_queues(client_for, case):
    page = (await (await client_for("chair")).get("/")).text
    assert page.index("To be heard at the next conference") < page.index("open tasks, by case")
    assert page.index("Overdue work by agency") < page.index('id="cases-heading"')
