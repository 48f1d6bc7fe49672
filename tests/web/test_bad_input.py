"""Bad input on every write endpoint: a 4xx with a message naming the problem, never a 500,
and nothing written (audit log, cases and tasks unchanged)."""

import pytest
from sqlalchemy import func, select

from coordinator.models import AuditEntry, Case, CaseAgency, Task
from tests.conftest import REFERRAL


async def counts(sessionmaker) -> tuple[int, ...]:
    async with sessionmaker() as session:
        return tuple([(await session.execute(select(func.count()).select_from(model))).scalar_one()
                      for model in (AuditEntry, Case, CaseAgency, Task)])


def survivor(**extra):
    return {**REFERRAL, **extra}


BAD_CASES = [
    ({"people": [{"role": "survivor", "name": "N"}]}, "kind"),  # missing kind
    (survivor(kind="burglary"), "kind"),
    (survivor(checklist_score="lots"), "checklist_score"),
    (survivor(checklist_score=30), "checklist_score"),
    (survivor(people=[{"role": "child", "name": "Ella"}]), "people"),
    (survivor(people=[{"role": "neighbour", "name": "Bob"}]), "people[0].role"),
    (survivor(people=[{"role": "survivor", "name": "  "}]), "people[0].name"),
    (survivor(agencies=["police", "fire_brigade"]), "agencies"),
    (survivor(lead_agency="health", agencies=["police"]), "lead_agency"),
    (survivor(checklist_score=2), "checklist_score"),
    (survivor(key_dates=[{"kind": "graduation", "on": "2026-01-01"}]), "key_dates[0].kind"),
    (survivor(key_dates=[{"kind": "hearing", "on": "not a date"}]), "key_dates"),
    (survivor(judgement_level="extreme", judgement_reasons="x"), "judgement_level"),
    ([1, 2, 3], None),
]


@pytest.mark.parametrize(("payload", "field"), BAD_CASES)
async def test_bad_referrals_are_refused_naming_the_field(client_for, people, sessionmaker, payload, field):
    chair = await client_for("chair")
    before = await counts(sessionmaker)
    response = await chair.post("/api/cases", json=payload)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["detail"]
    if field is not None:
        assert field in (body.get("field") or "") or field in str(body.get("extra")), body
    assert await counts(sessionmaker) == before


async def test_malformed_json_is_a_400(client_for, people):
    chair = await client_for("chair")
    response = await chair.post("/api/cases", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize(("method", "path", "payload", "status"), [
    ("post", "/api/cases/{case}/agencies", {"agency": "fire_brigade"}, 400),
    ("post", "/api/cases/{case}/agencies", {}, 400),
    ("post", "/api/cases/999999/agencies", {"agency": "housing"}, 404),
    ("post", "/api/cases/{case}/tasks", {"agency": "police", "title": "", "domain": "victim"}, 400),
    ("post", "/api/cases/{case}/tasks", {"agency": "police", "title": "x", "domain": "weather"}, 400),
    ("post", "/api/cases/{case}/tasks", {"agency": "housing", "title": "x", "domain": "victim"}, 400),
    ("post", "/api/cases/{case}/tasks", {"agency": "police", "title": "x", "domain": "victim", "due_on": "soon"}, 400),
    ("post", "/api/cases/{case}/tasks", {"agency": "police", "title": "x", "domain": "victim", "assignee_id": 999}, 400),
    ("post", "/api/cases/999999/tasks", {"agency": "police", "title": "x", "domain": "victim"}, 404),
    ("patch", "/api/tasks/{task}", {"status": "finished", "version": 1}, 400),
    ("patch", "/api/tasks/{task}", {"status": "done", "version": "one"}, 400),
    ("patch", "/api/tasks/{task}", {"status": "done"}, 400),
    ("patch", "/api/tasks/{task}", {"status": "done", "version": 99}, 409),
    ("patch", "/api/tasks/999999", {"status": "done", "version": 1}, 404),
])
async def test_bad_input_on_agency_and_task_endpoints(client_for, case, sessionmaker, method, path, payload, status):
    chair = await client_for("chair")
    task = (await chair.get(f"/api/cases/{case['id']}/tasks")).json()[0]
    before = await counts(sessionmaker)
    url = path.format(case=case["id"], task=task["id"])
    response = await getattr(chair, method)(url, json=payload)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert await counts(sessionmaker) == before


async def test_bad_form_posts_get_a_page_with_the_message_not_a_500(client_for, case, sessionmaker):
    chair = await client_for("chair")
    before = await counts(sessionmaker)
    response = await chair.post(f"/cases/{case['id']}/tasks", data={"agency": "police", "title": "x", "due_on": "31/12"})
    assert response.status_code == 400 and "YYYY-MM-DD" in response.text
    response = await chair.post(f"/cases/{case['id']}/agencies", data={"agency": "nobody"})
    assert response.status_code == 400 and "no agency" in response.text
    assert await counts(sessionmaker) == before
