"""A create sent again with the same Idempotency-Key gets the first answer and writes nothing,
even after the server restarted; the key is bound to the request it was first used for."""

from sqlalchemy import func, select

from coordinator.app import create_app
from coordinator.models import AuditEntry, Case, IdempotencyKey, Task
from tests.conftest import REFERRAL, Client

TASK = {"agency": "police", "title": "Check the address", "domain": "victim", "due_on": "2030-01-01"}


async def _counts(sessionmaker) -> dict[str, int]:
    async with sessionmaker() as session:
        return {model.__name__: (await session.execute(select(func.count()).select_from(model))).scalar_one()
                for model in (Case, Task, AuditEntry, IdempotencyKey)}


def _answer(response) -> tuple[int, bytes, str]:
    return response.status_code, response.content, response.headers["content-type"]


async def test_a_retried_create_returns_the_first_answer_and_writes_nothing(client_for, people, sessionmaker):
    chair = await client_for("chair")
    key = {"Idempotency-Key": "create-case-1"}
    first = await chair.post("/api/cases", json=REFERRAL, headers=key)
    assert first.status_code == 201, first.text
    before = await _counts(sessionmaker)
    again = await chair.post("/api/cases", json=REFERRAL, headers=key)
    assert _answer(again) == _answer(first)
    assert await _counts(sessionmaker) == before

    task_key = {"Idempotency-Key": "task-1"}
    url = f"/api/cases/{first.json()['id']}/tasks"
    created = await chair.post(url, json=TASK, headers=task_key)
    assert created.status_code == 201, created.text
    before = await _counts(sessionmaker)
    assert _answer(await chair.post(url, json=TASK, headers=task_key)) == _answer(created)
    assert await _counts(sessionmaker) == before
    assert before["IdempotencyKey"] == 2


async def test_a_retry_after_a_restart_returns_the_first_answer(client_for, people, sessionmaker, settings, registry):
    chair = await client_for("chair")
    key = {"Idempotency-Key": "before-the-restart"}
    first = await chair.post("/api/cases", json=REFERRAL, headers=key)
    assert first.status_code == 201, first.text

    restarted = create_app(settings, registry)  # a new process on the same database
    try:
        async with Client(restarted) as again:
            assert (await again.login("chair")).status_code == 200
            before = await _counts(sessionmaker)
            assert _answer(await again.post("/api/cases", json=REFERRAL, headers=key)) == _answer(first)
    finally:
        await restarted.state.engine.dispose()
    assert await _counts(sessionmaker) == before


async def test_a_key_reused_on_another_request_is_refused(client_for, case, sessionmaker):
    chair = await client_for("chair")
    key = {"Idempotency-Key": "used-once"}
    assert (await chair.post("/api/cases", json=REFERRAL, headers=key)).status_code == 201
    before = await _counts(sessionmaker)
    reused = await chair.post(f"/api/cases/{case['id']}/tasks", json=TASK, headers=key)
    assert reused.status_code == 422
    assert "was used for POST /api/cases" in reused.json()["detail"]
    assert await _counts(sessionmaker) == before


async def test_keys_are_per_person_and_a_refusal_is_not_kept(client_for, people, sessionmaker):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    key = {"Idempotency-Key": "shared-words"}
    refused = await chair.post("/api/cases", json={**REFERRAL, "checklist_score": 1}, headers=key)
    assert refused.status_code == 400  # nothing written, so nothing kept: the corrected request may run
    mine = await chair.post("/api/cases", json=REFERRAL, headers=key)
    assert mine.status_code == 201
    theirs = await supervisor.post("/api/cases", json=REFERRAL, headers=key)
    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]  # not someone else's answer
    assert (await _counts(sessionmaker))["Case"] == 2


async def test_a_malformed_key_is_refused(client_for, people):
    chair = await client_for("chair")
    response = await chair.post("/api/cases", json=REFERRAL, headers={"Idempotency-Key": "x" * 201})
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
