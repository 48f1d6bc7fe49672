"""The survivor's feedback survey (GBV case management, step 6).

Given after the case closes, by a supervisor or another caseworker, never her own caseworker nor
anyone else who worked with her on the case (so that she can answer freely). The informed consent is read to her first: the survey is to improve
services, it is voluntary, her answers are confidential and do not affect her services. She fills
it in herself or answers it as an interview. That it was given is recorded on the case (never shown
with its date); her answers are stored apart with only their month, never linked to the case, and are
read only as counts per answer over a whole period that has ended.

Publication is built so that no comparison of two reports isolates one survivor: only whole months
or quarters that have ended (so a period's count never moves one survey at a time), only with at
least five answers, and a quarter only when the answers of its months that are not published on
their own number none or at least five (otherwise the quarter minus its published months would be
the answers of fewer than five survivors). Months never overlap each other, nor quarters, so every
published range differs from any union of published ranges inside it by none or at least five answers.

Every question takes one of a fixed set of answers (a four-point scale and "prefer not to say"), so
that answers aggregate; there is no free text, which could identify her.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, policy
from coordinator.errors import Conflict, Invalid
from coordinator.limits import ListOf, OneOf
from coordinator.models import (
    Case,
    Closure,
    FollowUp,
    InformationItem,
    Referral,
    RoleAssignment,
    SurveyAdministration,
    SurveyResponse,
    utcnow,
)
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
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


Answer = OneOf(CHOICES, "each answer is one of " + ", ".join(CHOICES))


@dataclass
class SurveyIn:
    """The survey as given: that the consent was read and she agreed, how, and one answer per
    question, in the order of the questions."""

    consent_read: bool
    mode: OneOf(MODES, "the survey is self_completed or an interview")
    answers: ListOf(MAX_QUESTIONS, Answer)


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


async def too_close_to_her(session: AsyncSession, case: Case) -> frozenset[int]:
    """Everyone who worked with her on the case, none of whom may give her the survey: the caseworker
    named on the case, whoever held victim contact (closure ends that role, so ended assignments
    count), contacted her or recorded a follow-up's outcome, referred her to another agency or
    service, or asked to close the case. The case's creator is not among them for that alone: a
    coordinator entering a referral has not worked with her."""
    outcome_recorders = (select(InformationItem.recorded_by_id)
                         .join(FollowUp, FollowUp.outcome_item_id == InformationItem.id)
                         .where(FollowUp.case_id == case.id))
    worked_with_her = union(
        select(RoleAssignment.person_id).where(RoleAssignment.case_id == case.id,
                                               RoleAssignment.responsibility == "victim_contact"),
        select(FollowUp.person_id).where(FollowUp.case_id == case.id),
        outcome_recorders,
        select(Referral.created_by_id).where(Referral.case_id == case.id),
        select(Closure.requested_by_id).where(Closure.case_id == case.id),
    )
    people = set((await session.execute(worked_with_her)).scalars()) | {case.caseworker_id}
    return frozenset(person for person in people if person is not None)


async def administration_of(session: AsyncSession, case_id: int) -> SurveyAdministration | None:
    return (await session.execute(
        select(SurveyAdministration).where(SurveyAdministration.case_id == case_id))).scalar()


async def administer(session: AsyncSession, survey_questions: list[str], actor: Actor, case_id: int,
                     data: SurveyIn) -> SurveyAdministration:
    """Record that the survey was given on a closed case, and store her answers apart from it."""
    case = await cases.case_for(session, actor, case_id)
    policy.require_survey_administrator(actor, case, await too_close_to_her(session, case))
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
    """The survey's answers over a period: ``responses`` and ``counts`` are None, and ``withheld``
    says why, when the period may not be published."""

    period: str
    responses: int | None
    counts: list[tuple[str, dict[str, int]]] | None
    withheld: str | None = None

    @property
    def hidden(self) -> bool:
        return self.responses is None


def months_of(period: str) -> list[str]:
    """The months (YYYY-MM, as answers are stored) a month or a quarter covers; 400 for anything else."""
    if MONTH.match(period):
        return [period]
    quarter = QUARTER.match(period)
    if quarter is None:
        raise Invalid("give the period as a month (2026-11) or a quarter (2026-Q4): only whole periods are "
                      "published", field="period")
    year, number = quarter.group(1), int(quarter.group(2))
    return [f"{year}-{month:02d}" for month in range(3 * number - 2, 3 * number + 1)]


def last_ended_quarter(today: dt.date) -> str:
    """The report's default: the most recent quarter that has ended."""
    quarter = (today.month - 1) // 3  # the current quarter's number minus one
    return f"{today.year}-Q{quarter}" if quarter else f"{today.year - 1}-Q4"


def withheld_because(months: list[str], per_month: dict[str, int], current_month: str) -> str | None:
    """Why answers over these months may not be published, or None when they may (see the module's
    docstring for why each rule is needed)."""
    if months[-1] >= current_month:
        return "the period has not ended: answers are published only for whole months or quarters that have ended"
    total = sum(per_month.get(month, 0) for month in months)
    if total < MIN_ANSWERS:
        return f"fewer than {MIN_ANSWERS} survivors answered in this period"
    unpublished = sum(count for month in months if (count := per_month.get(month, 0)) < MIN_ANSWERS)
    if 0 < unpublished < MIN_ANSWERS:
        return (f"fewer than {MIN_ANSWERS} of its answers fall in months not published on their own, so the "
                "quarter compared with its months would show them: see the months instead")
    return None


async def report(session: AsyncSession, survey_questions: list[str], actor: Actor, period: str) -> Report:
    """Counts per answer for each current question over a month or a quarter that may be published."""
    policy.require_feedback_reader(actor)
    months = months_of(period)
    per_month = dict((await session.execute(
        select(SurveyResponse.period, func.count()).where(SurveyResponse.period.in_(months))
        .group_by(SurveyResponse.period))).all())
    withheld = withheld_because(months, per_month, utcnow().strftime("%Y-%m"))
    if withheld is not None:
        return Report(period, None, None, withheld)
    rows = list((await session.execute(
        select(SurveyResponse.answers).where(SurveyResponse.period.in_(months)))).scalars())
    counts = {question: dict.fromkeys(CHOICES, 0) for question in survey_questions}
    for answers in map(json.loads, rows):
        for question, answer in answers.items():
            if question in counts and answer in CHOICES:
                counts[question][answer] += 1
    return Report(period, len(rows), list(counts.items()))
