"""The survivor's feedback survey (GBV step 6): only on a closed case, never given by her own
caseworker, the informed consent read first, her answers stored apart from the case, and read only
in aggregate once five answers exist for the period."""

from __future__ import annotations

import dataclasses
import json

from sqlalchemy import func, select

from coordinator.app import create_app
from coordinator.lifecycle.feedback import DEFAULT_QUESTIONS
from coordinator.models import AuditEntry, SurveyAdministration, SurveyResponse, utcnow
from tests.conftest import Client
from tests.web.support import whole_case
from tests.web.test_closure import close

ANSWERS = ["agree"] * len(DEFAULT_QUESTIONS)


def survey(**fields) -> dict:
    return {"consent_read": True, "mode": "interview", "answers": ANSWERS, **fields}


async def give(client, case_id: int, **fields):
    return await client.post(f"/api/cases/{case_id}/feedback", json=survey(**fields))


async def stored(sessionmaker) -> tuple[int, int]:
    async with sessionmaker() as db:
        return ((await db.execute(select(func.count()).select_from(SurveyAdministration))).scalar_one(),
                (await db.execute(select(func.count()).select_from(SurveyResponse))).scalar_one())


async def test_the_survey_waits_for_closure_and_is_refused_to_her_named_caseworker(client_for, people, case,
                                                                                  make_user):
    chair, supervisor, social = await client_for("chair"), await client_for("supervisor"), await client_for("sw")
    named = await chair.patch(f"/api/cases/{case['id']}", json={
        "version": case["version"], "reason": "Sam takes her case", "caseworker_id": people["social_work"].id})
    assert named.status_code == 200, named.text
    early = await give(supervisor, case["id"])
    assert early.status_code == 409 and "after the case closes" in early.json()["detail"]
    await close(chair, supervisor, case["id"])

    own = await give(social, case["id"])
    assert own.status_code == 403 and "you are the survivor's caseworker" in own.json()["detail"]
    page = await social.get(f"/cases/{case['id']}/feedback")
    assert "never by her own caseworker" in page.text and "Save her answers" not in page.text
    assert "Give the feedback survey" not in (await whole_case(social, case['id'])).text
    await make_user("root", None, "admin")
    assert (await give(await client_for("root"), case["id"])).status_code == 403  # not a caseworker at all
    assert (await give(await client_for("hou"), case["id"])).status_code == 404  # housing is not on the case
    other = await give(await client_for("pc"), case["id"])  # another caseworker: police is on the case
    assert other.status_code == 201, other.text


async def test_without_a_named_caseworker_the_victim_contact_holder_is_refused(client_for, people, case):
    chair, supervisor, police = await client_for("chair"), await client_for("supervisor"), await client_for("pc")
    held = await chair.post(f"/api/cases/{case['id']}/roles", json={
        "responsibility": "victim_contact", "agency": "police", "version": 0, "person_id": people["police"].id})
    assert held.status_code == 201, held.text
    await close(chair, supervisor, case["id"])  # closure ends the role: it still names her caseworker
    refused = await give(police, case["id"])
    assert refused.status_code == 403 and "caseworker" in refused.json()["detail"]
    assert (await give(chair, case["id"])).status_code == 201


async def test_the_informed_consent_comes_first_and_her_answers_are_kept_apart(client_for, people, case,
                                                                             sessionmaker):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    await close(chair, supervisor, case["id"])
    page = (await supervisor.get(f"/cases/{case['id']}/feedback")).text
    assert "help us improve our services" in page and "voluntary" in page and "confidential" in page
    assert "will not affect the services" in page and DEFAULT_QUESTIONS[0] in page
    for body, field in [(survey(consent_read=False), "consent_read"), (survey(answers=ANSWERS[:-1]), "answers"),
                        (survey(answers=[*ANSWERS[:-1], "maybe"]), "answers[6]"), (survey(mode="by post"), "mode")]:
        refused = await supervisor.post(f"/api/cases/{case['id']}/feedback", json=body)
        assert refused.status_code == 400 and refused.json()["field"] == field, (field, refused.text)
    assert await stored(sessionmaker) == (0, 0)

    answers = {f"answer_{i}": "agree" for i in range(len(DEFAULT_QUESTIONS))} | {"answer_2": "strongly_disagree"}
    unread = await supervisor.post(f"/cases/{case['id']}/feedback", data={"mode": "self_completed", **answers})
    assert unread.status_code == 400 and "informed consent" in unread.text
    given = await supervisor.post(f"/cases/{case['id']}/feedback",
                                  data={"consent_read": "yes", "mode": "self_completed", **answers})
    assert given.status_code == 200 and "The feedback survey was given on" in given.text
    again = await give(supervisor, case["id"])
    assert again.status_code == 409 and "already" in again.json()["detail"]
    state = (await chair.get(f"/api/cases/{case['id']}/feedback")).json()
    assert state["given"]["mode"] == "self_completed" and state["given"]["by_id"] == people["supervisor"].id
    assert state["may_administer"] is False and "answers" not in state["given"]

    async with sessionmaker() as db:
        [response] = (await db.execute(select(SurveyResponse))).scalars().all()
        audited = (await db.execute(select(AuditEntry.detail).where(
            AuditEntry.action == "feedback.administered"))).scalars().all()
    assert response.period == utcnow().strftime("%Y-%m")
    assert json.loads(response.answers)[DEFAULT_QUESTIONS[2]] == "strongly_disagree"
    assert str(case["id"]) not in response.answers and case["reference"] not in response.answers
    assert [json.loads(d) for d in audited] == [{"mode": "self_completed"}]  # never her answers


async def test_answers_are_shown_only_in_aggregate_and_only_from_five(client_for, people, case, sessionmaker):
    chair, supervisor, police = await client_for("chair"), await client_for("supervisor"), await client_for("pc")
    await close(chair, supervisor, case["id"])
    assert (await give(supervisor, case["id"], answers=["strongly_agree"] * len(ANSWERS))).status_code == 201
    month = utcnow().strftime("%Y-%m")
    async with sessionmaker() as db:
        db.add_all([SurveyResponse(period=month, answers=json.dumps(dict.fromkeys(DEFAULT_QUESTIONS, "agree")))
                    for _ in range(3)])
        await db.commit()
    hidden = (await supervisor.get("/api/feedback", params={"period": month})).json()
    assert hidden == {"period": month, "hidden": True, "responses": None, "questions": []}
    page = (await supervisor.get("/feedback", params={"period": month})).text
    assert "Fewer than 5 survivors" in page and "Strongly agree</td>" not in page
    assert (await police.get("/api/feedback")).status_code == 403
    bad = await supervisor.get("/api/feedback", params={"period": "last month"})
    assert bad.status_code == 400 and bad.json()["field"] == "period"

    async with sessionmaker() as db:
        db.add(SurveyResponse(period=month, answers=json.dumps(dict.fromkeys(DEFAULT_QUESTIONS, "agree"))))
        await db.commit()
    for period in (month, month[:4]):
        shown = (await chair.get("/api/feedback", params={"period": period})).json()
        assert shown["hidden"] is False and shown["responses"] == 5
        first = shown["questions"][0]
        assert first["question"] == DEFAULT_QUESTIONS[0]
        assert first["counts"] == {"strongly_agree": 1, "agree": 4, "disagree": 0, "strongly_disagree": 0,
                                   "prefer_not_to_say": 0}
    page = (await supervisor.get("/feedback")).text  # this year by default
    assert "5 survivors answered" in page and DEFAULT_QUESTIONS[0] in page


async def test_a_setting_replaces_the_default_questions(settings, registry, people, tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text("Did you feel listened to?\n\nWould you come back?\n", encoding="utf-8")
    app = create_app(dataclasses.replace(settings, survey_questions_file=str(questions)), registry)
    try:
        async with Client(app) as client:
            await client.login("supervisor")
            asked = (await client.get("/api/feedback/questions")).json()
    finally:
        await app.state.engine.dispose()
    assert asked["questions"] == ["Did you feel listened to?", "Would you come back?"]
    assert asked["choices"][-1] == "prefer_not_to_say" and len(asked["informed_consent"]) == 4
