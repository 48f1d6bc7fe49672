"""The survivor's feedback survey (GBV step 6): only on a closed case, never given by her own
caseworker, the informed consent read first, her answers stored apart from the case, and read only
in aggregate once five answers exist for the period."""

from __future__ import annotations

import dataclasses
import itertools
import json

from sqlalchemy import func, select

from coordinator.app import create_app
from coordinator.lifecycle.feedback import (
    DEFAULT_QUESTIONS,
    MIN_ANSWERS,
    last_ended_quarter,
    months_of,
    withheld_because,
)
from coordinator.models import AuditEntry, SurveyAdministration, SurveyResponse, utcnow
from tests.conftest import Client
from tests.web.support import whole_case
from tests.web.test_closure import close
from tests.web.test_follow_ups import plan, record

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
    assert own.status_code == 403 and "as her caseworker" in own.json()["detail"]
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
    assert (await give(await client_for("doc"), case["id"])).status_code == 201


async def test_nobody_who_worked_with_her_gives_the_survey_and_the_case_creator_may(client_for, people, make_user,
                                                                                  case):
    """No caseworker is named: whoever contacted her, recorded a follow-up's outcome, referred her or
    asked to close the case is refused all the same; the coordinator who only entered the case is not."""
    contact = await make_user("contact", "police")
    await make_user("referrer", "social_work")
    chair, supervisor, police = await client_for("chair"), await client_for("supervisor"), await client_for("pc")
    follow_up = await plan(police, case["id"], person_id=contact.id, planned_on=utcnow().date().isoformat())
    assert (await record(police, follow_up)).status_code == 200
    referred = await (await client_for("referrer")).post(f"/api/cases/{case['id']}/referrals", json={
        "to_agency": "housing", "purpose": "emergency accommodation", "method": "written", "given_by": "Nora",
        "categories": ["social_work.housing"]})
    assert referred.status_code == 201, referred.text
    await close(await client_for("sw"), supervisor, case["id"])  # her social worker asks to close the case

    for who in ("contact", "pc", "referrer", "sw"):
        refused = await give(await client_for(who), case["id"])
        assert refused.status_code == 403 and "worked with the survivor" in refused.json()["detail"], who
    assert (await chair.get(f"/api/cases/{case['id']}/feedback")).json()["may_administer"] is True
    assert (await give(chair, case["id"])).status_code == 201  # created the case, never worked with her


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
    assert given.status_code == 200 and "The feedback survey was offered" in given.text
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


async def add_answers(sessionmaker, month: str, count: int, answer: str = "agree") -> None:
    async with sessionmaker() as db:
        db.add_all([SurveyResponse(period=month, answers=json.dumps(dict.fromkeys(DEFAULT_QUESTIONS, answer)))
                    for _ in range(count)])
        await db.commit()


async def test_answers_are_shown_only_in_aggregate_and_only_from_five(client_for, people, sessionmaker):
    chair, supervisor, police = await client_for("chair"), await client_for("supervisor"), await client_for("pc")
    await add_answers(sessionmaker, "2020-05", 1, "strongly_agree")
    await add_answers(sessionmaker, "2020-05", 3)
    hidden = (await supervisor.get("/api/feedback", params={"period": "2020-05"})).json()
    assert hidden["hidden"] is True and hidden["responses"] is None and hidden["questions"] == []
    assert "fewer than 5 survivors" in hidden["withheld"]
    page = (await supervisor.get("/feedback", params={"period": "2020-05"})).text
    assert "fewer than 5 survivors" in page and "Strongly agree</td>" not in page
    assert (await police.get("/api/feedback")).status_code == 403
    for unknown in ("last month", "2020", "2020-Q5", "2020-13"):  # a year would overlap its quarters
        bad = await supervisor.get("/api/feedback", params={"period": unknown})
        assert bad.status_code == 400 and bad.json()["field"] == "period", unknown

    await add_answers(sessionmaker, "2020-05", 1)
    shown = (await chair.get("/api/feedback", params={"period": "2020-05"})).json()
    assert shown["hidden"] is False and shown["responses"] == 5 and shown["withheld"] is None
    first = shown["questions"][0]
    assert first["question"] == DEFAULT_QUESTIONS[0]
    assert first["counts"] == {"strongly_agree": 1, "agree": 4, "disagree": 0, "strongly_disagree": 0,
                               "prefer_not_to_say": 0}
    page = (await supervisor.get("/feedback", params={"period": "2020-Q2"})).text
    assert "5 survivors answered" in page and DEFAULT_QUESTIONS[0] in page


async def test_a_period_is_published_only_once_it_has_ended(client_for, people, sessionmaker):
    """While a month runs its count grows one survey at a time: comparing it before and after one
    survey would give her answers."""
    supervisor = await client_for("supervisor")
    today = utcnow().date()
    month = today.strftime("%Y-%m")
    await add_answers(sessionmaker, month, 7)
    quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    for running in (month, quarter):
        withheld = (await supervisor.get("/api/feedback", params={"period": running})).json()
        assert withheld["hidden"] is True and "has not ended" in withheld["withheld"], running
    default = (await supervisor.get("/api/feedback")).json()
    assert default["period"] == last_ended_quarter(today) and default["period"] != quarter


async def test_a_quarter_is_withheld_when_its_unpublished_months_hold_fewer_than_five(client_for, people,
                                                                                     sessionmaker):
    """Quarter minus its published months would be the answers of the months too small to show."""
    supervisor = await client_for("supervisor")
    await add_answers(sessionmaker, "2020-01", 6)
    await add_answers(sessionmaker, "2020-02", 2, "disagree")

    async def published(period: str) -> int | None:
        return (await supervisor.get("/api/feedback", params={"period": period})).json()["responses"]

    assert (await published("2020-01"), await published("2020-02"), await published("2020-Q1")) == (6, None, None)
    withheld = (await supervisor.get("/api/feedback", params={"period": "2020-Q1"})).json()["withheld"]
    assert "not published on their own" in withheld
    await add_answers(sessionmaker, "2020-03", 3, "disagree")  # Feb and Mar together: five, enough to show
    assert (await published("2020-02"), await published("2020-03"), await published("2020-Q1")) == (None, None, 11)
    await add_answers(sessionmaker, "2020-03", 2)  # March now shows, February's two would stand alone again
    assert (await published("2020-03"), await published("2020-Q1")) == (5, None)


def test_every_published_range_differs_from_the_published_ranges_inside_it_by_none_or_five():
    """The rule checked on every split of a quarter's answers between its months (0-12 each): the
    quarter minus any set of its published months is 0 or at least MIN_ANSWERS answers."""
    months = months_of("2020-Q1")
    for split in itertools.product(range(13), repeat=3):
        per_month = dict(zip(months, split, strict=True))
        published = [m for m in months if withheld_because([m], per_month, "2026-01") is None]
        if withheld_because(months, per_month, "2026-01") is not None:
            continue
        for size in range(len(published) + 1):
            for inside in itertools.combinations(published, size):
                difference = sum(split) - sum(per_month[m] for m in inside)
                assert difference == 0 or difference >= MIN_ANSWERS, (split, inside)


async def test_the_case_says_the_survey_was_offered_never_when(client_for, case):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    await close(chair, supervisor, case["id"])
    assert (await give(supervisor, case["id"])).status_code == 201
    state = (await chair.get(f"/api/cases/{case['id']}/feedback")).json()
    assert set(state["given"]) == {"case_id", "by_id", "mode"}
    for page in (await chair.get(f"/cases/{case['id']}/referrals"), await chair.get(f"/cases/{case['id']}/feedback")):
        start = page.text.index("survey was offered")
        said = page.text[start:page.text.index("</p>", start)]
        assert utcnow().strftime("%Y-%m") not in said and " on " not in said, said


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
