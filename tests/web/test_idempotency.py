"""A create sent again with the same Idempotency-Key gets the first answer and writes nothing,
even after the server restarted; a twin sent while the first is in flight waits for the first's
answer, whatever it is; the key is bound to the request it was first used for (method, path and
body), and every create documents the header."""

import asyncio
import datetime as dt
import json

import pytest
from sqlalchemy import func, select, update

from coordinator.app import create_app
from coordinator.models import AuditEntry, Case, IdempotencyKey, SurveyAdministration, Task, User, utcnow
from coordinator.web import idempotency
from coordinator.web.edge import MAX_BODY_BYTES
from tests.conftest import REFERRAL, Client
from tests.web.test_closure import close
from tests.web.test_feedback import survey

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


async def test_the_same_key_with_another_body_is_refused(client_for, people, sessionmaker):
    chair = await client_for("chair")
    key = {"Idempotency-Key": "one-referral"}
    assert (await chair.post("/api/cases", json=REFERRAL, headers=key)).status_code == 201
    before = await _counts(sessionmaker)
    changed = await chair.post("/api/cases", json={**REFERRAL, "checklist_score": 16}, headers=key)
    assert changed.status_code == 422
    assert "with a different body" in changed.json()["detail"]
    assert await _counts(sessionmaker) == before


BODY = json.dumps(REFERRAL).encode()
JSON = {"content-type": "application/json"}


async def _claim(sessionmaker, username: str, key: str, *, age: dt.timedelta = dt.timedelta()) -> int:
    """The key claimed for POST /api/cases with BODY by a request running elsewhere (another
    server process), ``age`` ago; no answer yet."""
    async with sessionmaker() as session:
        user_id = (await session.execute(select(User.id).where(User.username == username))).scalar_one()
        claim = IdempotencyKey(user_id=user_id, key=key, request="POST /api/cases",
                               fingerprint=idempotency.fingerprint(b"", BODY), created_at=utcnow() - age)
        session.add(claim)
        await session.commit()
        return claim.id


async def _answer_claim(sessionmaker, claim_id: int, status: int, body: bytes, *, released: bool) -> None:
    async with sessionmaker() as session:
        await session.execute(update(IdempotencyKey).where(IdempotencyKey.id == claim_id).values(
            status_code=status, media_type="application/json", body=body, released=released))
        await session.commit()


@pytest.fixture
def waiting(monkeypatch) -> asyncio.Event:
    """Set once a keyed request has paused to wait for its twin's answer."""
    paused = asyncio.Event()
    pause = idempotency._pause

    async def watched() -> None:
        paused.set()
        await pause()

    monkeypatch.setattr(idempotency, "_pause", watched)
    return paused


@pytest.mark.parametrize(("status", "released"), [(201, False), (409, True)], ids=["created", "refused"])
async def test_a_twin_in_flight_waits_for_the_first_answer_whatever_it_is(client_for, people, sessionmaker, waiting,
                                                                         status, released):
    chair = await client_for("chair")
    claim = await _claim(sessionmaker, "chair", "sent-twice")
    before = await _counts(sessionmaker)
    twin = asyncio.create_task(chair.post("/api/cases", content=BODY, headers={**JSON, "Idempotency-Key": "sent-twice"}))
    paused = asyncio.create_task(waiting.wait())
    await asyncio.wait([twin, paused], return_when=asyncio.FIRST_COMPLETED)
    assert not twin.done(), twin.result().text  # it found the claim and waits: it runs nothing itself
    first = json.dumps({"detail": "the first answer"}).encode()
    await _answer_claim(sessionmaker, claim, status, first, released=released)
    answer = await twin
    assert (answer.status_code, answer.content) == (status, first)
    assert await _counts(sessionmaker) == before


async def test_after_a_refusal_the_key_runs_the_request_afresh(client_for, people, sessionmaker):
    chair = await client_for("chair")
    claim = await _claim(sessionmaker, "chair", "refused-first")
    await _answer_claim(sessionmaker, claim, 409, b"{}", released=True)  # a refusal writes nothing
    again = await chair.post("/api/cases", content=BODY, headers={**JSON, "Idempotency-Key": "refused-first"})
    assert again.status_code == 201, again.text
    assert (await _counts(sessionmaker))["Case"] == 1


async def test_a_claim_left_by_a_process_that_died_is_taken_over(client_for, people, sessionmaker):
    chair = await client_for("chair")
    await _claim(sessionmaker, "chair", "orphaned", age=idempotency.IN_FLIGHT_FOR + dt.timedelta(seconds=1))
    taken = await chair.post("/api/cases", content=BODY, headers={**JSON, "Idempotency-Key": "orphaned"})
    assert taken.status_code == 201, taken.text
    assert (await _counts(sessionmaker))["Case"] == 1


async def test_twins_sent_at_once_get_the_same_answer_even_where_the_handler_refuses_a_second(
        client_for, people, case, sessionmaker):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    await close(chair, supervisor, case["id"])  # the survey is given once per case: a second run answers 409
    key = {"Idempotency-Key": "survey-once"}
    url = f"/api/cases/{case['id']}/feedback"
    answers = await asyncio.gather(*(supervisor.post(url, json=survey(), headers=key) for _ in range(2)))
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert answers[0].content == answers[1].content
    async with sessionmaker() as session:
        assert (await session.execute(select(func.count()).select_from(SurveyAdministration))).scalar_one() == 1


async def test_every_create_documents_the_header(client_for, people):
    chair = await client_for("chair")
    paths = (await chair.get("/schema/openapi.json")).json()["paths"]
    creates = {path: item["post"] for path, item in paths.items() if path.startswith("/api/") and "post" in item}
    assert len(creates) > 20
    undocumented = [path for path, operation in creates.items()
                    if not any(p["name"] == "Idempotency-Key" and p["in"] == "header"
                               for p in operation.get("parameters", []))]
    assert not undocumented
    assert not any(p["name"] == "Idempotency-Key" for item in paths.values() for method, operation in item.items()
                   if method != "post" for p in operation.get("parameters", []))


async def test_a_keyed_body_is_held_to_the_size_the_server_takes(client_for, people, sessionmaker):
    chair = await client_for("chair")
    huge = {**REFERRAL, "summary": "x" * (MAX_BODY_BYTES + 1)}
    refused = await chair.post("/api/cases", json=huge, headers={"Idempotency-Key": "too-large"})
    assert refused.status_code == 413 and "larger than" in refused.json()["detail"]
    assert (await _counts(sessionmaker))["IdempotencyKey"] == 0
