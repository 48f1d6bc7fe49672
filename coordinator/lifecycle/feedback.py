"""The survivor's feedback survey (GBV case management, step 6).

Given after the case closes, by a supervisor or another caseworker, never her own caseworker (so
that she can answer freely). The informed consent is read to her first: the survey is to improve
services, it is voluntary, her answers are confidential and do not affect her services. She fills
it in herself or answers it as an interview. That it was given is recorded on the case; her answers
are stored apart with only their month, never linked to the case, and are read only as counts per
answer over a period, and only once at least five answers exist for it.

Every question takes one of a fixed set of answers (a four-point scale and "prefer not to say"), so
that answers aggregate; there is no free text, which could identify her.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, policy
from coordinator.errors import Conflict, Invalid
from coordinator.limits import ListOf, OneOf
from coordinator.models import Case, RoleAssignment, SurveyAdministration, SurveyResponse, utcnow
from coordinator.policy import Actor

DEFAULT_QUESTIONS = (
    "You were treated with kindness and respect",
    "You felt safe when you met the people helping you",
    "What you shared was kept confidential",
    "You made the decisions about your case and the services you used",
    "The services you were referred to helped you",
    "You knew you could come back for help at any time",
    "You would tell a friend who needed help to come here",
)
CHOICES = {"strongly_agree": "Strongly agree", "agree": "Agree", "disagree": "Disagree",
           "strongly_disagree": "Strongly disagree", "prefer_not_to_say": "Prefer not to say"}
MODES = {"self_completed": "She completes it herself", "interview": "As an interview (read to her, answers noted)"}
# Read to her before anything else (step 6, "Obtain informed consent").
INFORMED_CONSENT = (
    "The purpose of this survey is to help us improve our services.",
    "Taking part is completely voluntary: you can stop at any time or skip any question.",
    "All your answers are kept confidential: they are stored apart from your file and never with your name.",
    "Your answers will not affect the services you receive, now or later.",
)
MIN_ANSWERS = 5  # fewer answers for a period are not shown at all: a handful could point at her
MAX_QUESTIONS = 50
MAX_QUESTION_LENGTH = 300
PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")


@dataclass
class SurveyIn:
    """The survey as given: that the consent was read and she agreed, how, and one answer per
    question, in the order of the questions."""

    consent_read: bool
    mode: OneOf(MODES, "the survey is self_completed or an interview")
    answers: ListOf(MAX_QUESTIONS, OneOf(CHOICES, "each answer is one of " + ", ".join(CHOICES)))


def questions(questions_file: str) -> list[str]:
    """The survey's questions: the defaults, or a file's lines (one question each) replacing them."""
    if not questions_file:
        return list(DEFAULT_QUESTIONS)
    try:
        lines = Path(questions_file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        raise Conflict("the survey's question file cannot be read: an administrator must fix "
                       "COORDINATOR_SURVEY_QUESTIONS") from None
    found = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
    if not found or len(found) > MAX_QUESTIONS or any(len(q) > MAX_QUESTION_LENGTH for q in found):
        raise Conflict(f"the survey's question file must hold 1 to {MAX_QUESTIONS} questions of at most "
                       f"{MAX_QUESTION_LENGTH} characters, one a line: an administrator must fix it")
    return found


async def caseworker_of(session: AsyncSession, case: Case) -> int | None:
    """Her caseworker: the person named on the case; else whoever last held victim contact (closure
    ends that role, so ended assignments count); else the person who referred the case."""
    if case.caseworker_id is not None:
        return case.caseworker_id
    contact = (await session.execute(
        select(RoleAssignment.person_id).where(RoleAssignment.case_id == case.id,
                                               RoleAssignment.responsibility == "victim_contact",
                                               RoleAssignment.person_id.is_not(None))
        .order_by(RoleAssignment.assigned_at.desc(), RoleAssignment.id.desc()).limit(1))).scalar()
    return contact if contact is not None else case.created_by_id


async def administration_of(session: AsyncSession, case_id: int) -> SurveyAdministration | None:
    return (await session.execute(
        select(SurveyAdministration).where(SurveyAdministration.case_id == case_id))).scalar()


async def administer(session: AsyncSession, survey_questions: list[str], actor: Actor, case_id: int,
                     data: SurveyIn) -> SurveyAdministration:
    """Record that the survey was given on a closed case, and store her answers apart from it."""
    case = await cases.case_for(session, actor, case_id)
    policy.require_survey_administrator(actor, case, await caseworker_of(session, case))
    if not data.consent_read:
        raise Invalid("read her the informed consent first, and go on only if she agrees to take part",
                      field="consent_read")
    if data.mode not in MODES:
        raise Invalid(f"mode must be one of {', '.join(MODES)}", field="mode")
    if len(data.answers) != len(survey_questions):
        raise Invalid(f"give one answer for each of the {len(survey_questions)} questions ('prefer_not_to_say' "
                      "where she does not answer)", field="answers")
    if any(answer not in CHOICES for answer in data.answers):
        raise Invalid("each answer is one of " + ", ".join(CHOICES), field="answers")
    now = utcnow()
    given = SurveyAdministration(case_id=case.id, by_id=actor.id, mode=data.mode, consent_read_at=now, at=now)
    try:
        async with session.begin_nested():
            session.add(given)
    except IntegrityError:
        raise Conflict(f"the feedback survey was given on case {case.reference} already") from None
    session.add(SurveyResponse(period=now.strftime("%Y-%m"),
                               answers=json.dumps(dict(zip(survey_questions, data.answers, strict=True)))))
    await audit.record(session, actor, "feedback.administered", case_id=case.id, subject=f"survey:{given.id}",
                       mode=data.mode)
    events.case_changed(session, case.id, "case")
    return given


@dataclass(frozen=True)
class Report:
    """The survey's answers over a period: ``responses`` and ``counts`` are None while fewer than
    MIN_ANSWERS answers exist for it."""

    period: str
    responses: int | None
    counts: list[tuple[str, dict[str, int]]] | None

    @property
    def hidden(self) -> bool:
        return self.responses is None


def check_period(period: str) -> str:
    if not PERIOD.match(period):
        raise Invalid("give the period as a year (2026) or a month (2026-11)", field="period")
    return period


async def report(session: AsyncSession, survey_questions: list[str], actor: Actor, period: str) -> Report:
    """Counts per answer for each current question over a year or a month."""
    policy.require_feedback_reader(actor)
    period = check_period(period)
    matching = SurveyResponse.period == period if len(period) == 7 else SurveyResponse.period.like(f"{period}-%")
    rows = list((await session.execute(select(SurveyResponse.answers).where(matching))).scalars())
    if len(rows) < MIN_ANSWERS:
        return Report(period, None, None)
    counts = {question: dict.fromkeys(CHOICES, 0) for question in survey_questions}
    for answers in map(json.loads, rows):
        for question, answer in answers.items():
            if question in counts and answer in CHOICES:
                counts[question][answer] += 1
    return Report(period, len(rows), list(counts.items()))
