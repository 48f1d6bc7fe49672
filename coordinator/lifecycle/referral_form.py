"""The MARAC referral form as practitioners know it (SafeLives' form is the model): whether she
knows of the referral, how to reach her safely, whom she fears, language and access needs, the 24
answers of the risk checklist (the score is counted from them, never typed), the referrer's
concerns, the children and their schools, the perpetrator's details, and that the duty to report
was explained to her.

Every missing field is named at once, so the referrer fills the gaps in one go. What the form
says of her is recorded as information items of the referring agency, one per part of the form,
in the core categories below: other agencies read them through the consent gate like any item.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events
from coordinator.errors import Invalid
from coordinator.limits import Line, ListOf, OneOf, Text
from coordinator.models import Case, InformationItem
from coordinator.policy import Actor

YES_NO = ("yes", "no")
ANSWERS = ("yes", "no", "not_known")
ANSWER_LABELS = {"yes": "Yes", "no": "No", "not_known": "Not known"}
# The SafeLives DASH risk identification checklist, in its order and in its words ("the abuser" is the
# perpetrator); kept as the text it is, one question a line.
CHECKLIST = tuple((Path(__file__).parent.parent / "risk_checklist.txt").read_text(encoding="utf-8").splitlines())
CONTACT, RISK, CHILDREN, PERPETRATOR = ("case.referral_contact", "case.referral_risk", "case.referral_children",
                                        "case.referral_perpetrator")


@dataclass
class ReferralFormIn:
    """The referral form's answers. Every field may be left out here so that intake can name all
    those missing at once; ``missing`` says which the form needs."""

    aware: OneOf(YES_NO, "say whether she is aware of the referral: yes or no") | None = None
    not_aware_reason: Text(2000) = ""
    safe_number: Line(40) = ""
    safe_times: Line(200) = ""
    message_ok: OneOf(YES_NO, "say whether a message may be left: yes or no") | None = None
    safe_word: Line(100) = ""
    fears: Text(2000) = ""
    language: Line(100) = ""
    interpreter: OneOf(YES_NO, "say whether she needs an interpreter: yes or no") | None = None
    access_needs: Text(2000) = ""
    checklist: ListOf(len(CHECKLIST), OneOf(ANSWERS, "answer each question yes, no or not known") | None) = \
        field(default_factory=list)
    concerns: Text(4000) = ""
    children_schools: Text(2000) = ""
    perpetrator: Text(2000) = ""
    duty_explained_by: Line(200) = ""
    duty_explained_on: dt.date | None = None


# What to ask for each field left empty, in the form's order.
ASKS = {
    "aware": "say whether she is aware of the referral",
    "not_aware_reason": "say why she is not aware of the referral",
    "safe_number": "give a number on which it is safe to contact her",
    "safe_times": "give the times when it is safe to contact her",
    "message_ok": "say whether a message may be left",
    "fears": "say whom she fears",
    "language": "give her first language",
    "interpreter": "say whether she needs an interpreter",
    "access_needs": "give her disability and access needs (write “none” if there are none)",
    "concerns": "give the referrer's concerns",
    "children_schools": "give the schools (or nurseries) of the children named",
    "perpetrator": "give the perpetrator's details (date of birth, address, what is known of them)",
    "duty_explained_by": "give who explained the duty to report to her",
    "duty_explained_on": "give the day the duty to report was explained",
}


def missing(form: ReferralFormIn, has_children: bool) -> dict[str, str]:
    """The fields the form still needs, each with what to give, in the form's order."""
    gaps = {name: ask for name, ask in ASKS.items() if getattr(form, name) in (None, "")
            or (isinstance(getattr(form, name), str) and not getattr(form, name).strip())}
    if form.aware != "no":
        gaps.pop("not_aware_reason", None)
    if not has_children:
        gaps.pop("children_schools", None)
    answers = [*form.checklist, *[None] * (len(CHECKLIST) - len(form.checklist))]
    for number, answer in enumerate(answers, 1):
        if answer is None:
            gaps[f"checklist[{number - 1}]"] = f"answer question {number} of the risk checklist"
    return gaps


def score(form: ReferralFormIn) -> int:
    """The checklist score: how many of the 24 questions were answered yes."""
    return sum(answer == "yes" for answer in form.checklist)


class FormIncomplete(Invalid):
    """A referral form with fields missing: the message names them all, and ``extra`` maps each to
    what to give, for the form to show beside its field."""

    def __init__(self, gaps: dict[str, str]) -> None:
        super().__init__("the referral form is missing: " + "; ".join(gaps.values()), field=next(iter(gaps)))
        self.extra = {"missing": gaps}


def check(form: ReferralFormIn, has_children: bool, referring_agency: str | None) -> None:
    gaps = missing(form, has_children)
    if referring_agency is None:
        gaps = {"referring_agency": "say which agency refers her (it holds what the form says)", **gaps}
    if gaps:
        raise FormIncomplete(gaps)
    if form.duty_explained_on > dt.date.today():
        raise Invalid("the duty to report cannot have been explained in the future", field="duty_explained_on")


def _lines(*pairs: tuple[str, str]) -> str:
    return "\n".join(f"{label}: {value.strip()}" for label, value in pairs if value and value.strip())


def parts(form: ReferralFormIn) -> dict[str, str]:
    """The form's text by the category it is shared in (a part left empty is not recorded)."""
    answers = "\n".join(f"{number}. {question} {ANSWER_LABELS[answer]}"
                        for number, (question, answer) in enumerate(zip(CHECKLIST, form.checklist, strict=True), 1))
    return {key: text for key, text in {
        CONTACT: _lines(("Aware of the referral", ANSWER_LABELS[form.aware]),
                        ("Why she is not aware", form.not_aware_reason),
                        ("Safe number", form.safe_number), ("Safe times", form.safe_times),
                        ("A message may be left", ANSWER_LABELS[form.message_ok]), ("Safe word", form.safe_word),
                        ("First language", form.language), ("Interpreter needed", ANSWER_LABELS[form.interpreter]),
                        ("Disability and access needs", form.access_needs)),
        RISK: f"Risk checklist: {score(form)} of {len(CHECKLIST)} answered yes\n{answers}\n\n"
              + _lines(("Whom she fears", form.fears), ("The referrer's concerns", form.concerns)),
        CHILDREN: _lines(("Children and their schools", form.children_schools)),
        PERPETRATOR: _lines(("The perpetrator", form.perpetrator)),
    }.items() if text}


async def record(session: AsyncSession, actor: Actor, case: Case, form: ReferralFormIn) -> None:
    """The form's parts as items of the referring agency on the new case (each audited, never its text)."""
    for category, text in parts(form).items():
        item = InformationItem(case_id=case.id, agency=case.referring_agency, category=category, nature="fact",
                               sensitivity="high", text=text, recorded_by_id=actor.id)
        session.add(item)
        await session.flush()
        item.lineage_id = item.id
        await audit.record(session, actor, "information.recorded", case_id=case.id, subject=f"item:{item.id}",
                           category=category, nature="fact", sensitivity="high")
    events.case_changed(session, case.id, "items")
