"""Scheduling: a conference in the past is refused with a clear message unless the coordinator
confirms it took place then; the cases to schedule are offered children first, as the agenda
will order them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from coordinator.models import Conference, utcnow
from tests.web.test_conferences import referral


async def conferences(sessionmaker) -> int:
    async with sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(Conference))).scalar_one()


async def test_a_conference_in_the_past_is_refused_unless_it_took_place_then(client_for, people, case, sessionmaker):
    chair = await client_for("chair")
    last_week = (utcnow() - dt.timedelta(days=7)).replace(microsecond=0)
    body = {"title": "MARAC", "scheduled_at": last_week.isoformat(), "chair_id": people["chair"].id,
            "case_ids": [case["id"]]}
    refused = await chair.post("/api/conferences", json=body)
    assert refused.status_code == 400 and refused.json()["field"] == "scheduled_at"
    assert "is in the past" in refused.json()["detail"] and f"{last_week:%Y-%m-%d}" in refused.json()["detail"]
    form = await chair.post("/conferences", data={
        "title": "MARAC", "scheduled_at": f"{last_week:%Y-%m-%dT%H:%M}", "chair_id": str(people["chair"].id),
        "case_ids": str(case["id"])})
    assert form.status_code == 400 and "is in the past" in form.text
    assert await conferences(sessionmaker) == 0

    recorded = await chair.post("/api/conferences", json={**body, "took_place": True})
    assert recorded.status_code == 201, recorded.text
    starting_now = await chair.post("/api/conferences", json={**body, "scheduled_at": utcnow().isoformat()})
    assert starting_now.status_code == 201, starting_now.text


async def test_the_cases_to_schedule_are_offered_children_first(client_for, people):
    chair = await client_for("chair")
    with_children = await referral(chair, children=True)
    adults_only = await referral(chair, children=False)  # the newest: it used to come first
    form = (await chair.get("/conferences/new")).text
    first, second = (form.index(f'name="case_ids" value="{case_id}"') for case_id in (with_children, adults_only))
    assert first < second
