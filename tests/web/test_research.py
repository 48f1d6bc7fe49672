"""Before the meeting, through the API: the research deadline, the agenda circulated to the invited
agencies (each sees reference, initials and risk of the cases it is on, the line alone of the others),
the agencies' research returns and the chair's readiness view; research items pass the consent gate
only as their agency released them (drafts never, "at the meeting" once the chair opens the case)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from coordinator.conference.research import research_deadline
from coordinator.models import AuditEntry
from coordinator.settings import Settings

pytestmark = pytest.mark.usefixtures("live_channels")

HELD = "Attended the emergency department with a fractured wrist on 2 May"
KEPT_BACK = "Named a neighbour as a witness"


def test_the_deadline_counts_working_days_back_from_the_meeting():
    thursday = dt.datetime(2027, 1, 7, 10, tzinfo=dt.UTC)
    assert research_deadline(thursday, 3) == dt.datetime(2027, 1, 4, 10, tzinfo=dt.UTC)  # Monday
    tuesday = dt.datetime(2027, 1, 5, 10, tzinfo=dt.UTC)
    assert research_deadline(tuesday, 3) == dt.datetime(2026, 12, 31, 10, tzinfo=dt.UTC)  # over the weekend
    assert Settings.from_env({"COORDINATOR_RESEARCH_DAYS": "5"}).research_days == 5
    assert Settings.from_env({}).research_days == 3


async def schedule(chair, people, case_ids: list[int], *, days_ahead: int = 14) -> dict:
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days_ahead)).replace(microsecond=0)
    response = await chair.post("/api/conferences", json={
        "title": "MARAC", "scheduled_at": when.isoformat(), "chair_id": people["chair"].id, "case_ids": case_ids,
        "participants": [{"user_id": people[a].id} for a in ("police", "social_work", "health")]})
    assert response.status_code == 201, response.text
    return {"id": response.json()["id"], "scheduled_at": when}


async def adults_case(chair) -> int:
    response = await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "people": [{"role": "survivor", "name": "Ana Ruiz"}], "checklist_score": 16,
        "agencies": ["police", "social_work"]})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_circulating_tells_each_invited_agency_its_agenda_and_the_deadline(client_for, people, case,
                                                                                 sessionmaker):
    chair, doc, hou = await client_for("chair"), await client_for("doc"), await client_for("hou")
    other = await adults_case(chair)  # health is not on it
    conference = await schedule(chair, people, [case["id"], other])
    url = f"/api/conferences/{conference['id']}"
    expected_due = research_deadline(conference["scheduled_at"], 3)

    not_yet = await doc.get(f"{url}/research")
    assert not_yet.status_code == 409 and "not been circulated" in not_yet.json()["detail"]
    assert (await doc.post(f"{url}/agenda/circulate")).status_code == 403  # the chair's to send
    circulated = await chair.post(f"{url}/agenda/circulate")
    assert circulated.status_code == 200, circulated.text
    assert dt.datetime.fromisoformat(circulated.json()["research_due_at"]) == expected_due
    again = await chair.post(f"{url}/agenda/circulate")
    assert again.status_code == 409 and "already" in again.json()["detail"]

    agenda = (await doc.get(f"{url}/research")).json()
    assert dt.datetime.fromisoformat(agenda["research_due_at"]) == expected_due
    lines = {line["case_id"]: line for line in agenda["lines"]}
    assert lines[case["id"]] == {"case_id": case["id"], "reference": case["reference"], "risk_level": "high",
                                 "on_case": True, "initials": "N.", "outcome": None, "late": False}
    assert lines[other]["on_case"] is False and lines[other]["initials"] is None  # the agenda line alone
    assert (await hou.get(f"{url}/research")).status_code == 404  # housing was not invited
    page = await doc.get(f"/conferences/{conference['id']}/research")
    assert "Ana" not in page.text and "not part of this case" in page.text
    async with sessionmaker() as session:
        audited = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "conference.agenda_circulated"))).scalar_one()
    assert audited == 1


async def test_the_chair_circulates_from_the_page(client_for, people, case):
    chair = await client_for("chair")
    conference = await schedule(chair, people, [case["id"]])
    page = await chair.get(f"/conferences/{conference['id']}/research")
    assert "Circulate the agenda" in page.text and "Awaiting" in page.text
    sent = await chair.post(f"/conferences/{conference['id']}/circulate")
    assert sent.status_code == 200 and "Agenda circulated" in sent.text and "Circulate the agenda" not in sent.text
