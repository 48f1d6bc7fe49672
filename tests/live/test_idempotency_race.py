"""The same Idempotency-Key sent through two server processes at the same moment on one
PostgreSQL database: both get the same answer, whatever the handler would have said to the second
(the survey is given once per case, so a second run of its handler answers 409), and the change
is made once."""

import asyncio
import os

import pytest
from sqlalchemy import func, select, update

from coordinator import cases
from coordinator.accounts import actor_of
from coordinator.cases import PersonIn, ReferralIn
from coordinator.lifecycle.feedback import DEFAULT_QUESTIONS
from coordinator.models import Case, SurveyAdministration, User, utcnow
from coordinator.settings import ReferralThresholds

ROUNDS = 25
SURVEY = {"consent_read": True, "mode": "interview", "answers": ["agree"] * len(DEFAULT_QUESTIONS)}

pytestmark = pytest.mark.skipif(
    not (os.environ.get("COORDINATOR_TEST_DATABASE_URL") or "").startswith("postgresql"),
    reason="races need two processes on one PostgreSQL database: set COORDINATOR_TEST_DATABASE_URL",
)


async def _closed_cases(sessionmaker, registry, count: int) -> list[int]:
    """Closed cases the chair referred, police among their agencies: police may give the survey."""
    async with sessionmaker() as session:
        chair = actor_of((await session.execute(select(User).where(User.username == "chair"))).scalar_one())
        made = [await cases.create_case(session, registry, ReferralThresholds(), chair, ReferralIn(
            kind="domestic_abuse", people=[PersonIn("survivor", f"Survivor {n}")], checklist_score=15,
            agencies=["police", "social_work"], summary="Moved away."), utcnow().date()) for n in range(count)]
        ids = [case.id for case in made]
        await session.execute(update(Case).where(Case.id.in_(ids)).values(stage="closed", closed_at=utcnow()))
        await session.commit()
    return ids


async def test_a_survey_key_sent_through_two_processes_at_once_is_answered_once(
        servers, people_on, scenario, sessionmaker, registry):
    case_ids = await _closed_cases(sessionmaker, registry, ROUNDS)
    (one,) = await people_on(servers(), "pc")
    (other,) = await people_on(servers(), "pc")  # the same person's retry reaches the other process

    async def send(person, case_id: int, key: str):
        headers = {**person._csrf(), "Idempotency-Key": key}
        return await person.http.post(f"/api/cases/{case_id}/feedback", json=SURVEY, headers=headers)

    identical = 0
    for case_id in case_ids:
        answers = await asyncio.gather(send(one, case_id, f"survey-{case_id}"), send(other, case_id, f"survey-{case_id}"))
        assert [a.status_code for a in answers] == [201, 201], [(a.status_code, a.text[:300]) for a in answers]
        assert answers[0].content == answers[1].content
        identical += 1
    print(f"\nsurvey key through two processes: {ROUNDS} rounds, {identical} answered identically with 201")
    async with sessionmaker() as session:
        given = (await session.execute(select(func.count()).select_from(SurveyAdministration).where(
            SurveyAdministration.case_id.in_(case_ids)))).scalar_one()
    assert given == ROUNDS
