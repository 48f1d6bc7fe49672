"""Her equality data, asked at referral, each question with "prefer not to say".

Kept in a table of its own, apart from the case's text: nothing shows it on a case, in the
conference, the minutes, an export or the search. It is read only to count, in the categories of
the quarterly MARAC data return (coordinator.figures), where a count under five is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator.limits import Line, OneOf
from coordinator.models import EqualityAnswers

PREFER_NOT = "prefer_not_to_say"
ETHNICITIES = ("white", "mixed", "asian", "black", "other", PREFER_NOT)
DISABILITY = ("yes", "no", PREFER_NOT)
ORIENTATIONS = ("heterosexual", "gay_or_lesbian", "bisexual", "other", PREFER_NOT)
GENDERS = ("female", "male", "trans", "non_binary", PREFER_NOT)
AGE_16_17 = ("yes", "no", PREFER_NOT)
LABELS = {"white": "White", "mixed": "Mixed or multiple ethnic groups", "asian": "Asian or Asian British",
          "black": "Black, African, Caribbean or Black British", "other": "Another ethnic group",
          "heterosexual": "Heterosexual", "gay_or_lesbian": "Gay or lesbian", "bisexual": "Bisexual",
          "female": "Female", "male": "Male", "trans": "Trans", "non_binary": "Non-binary",
          "yes": "Yes", "no": "No", PREFER_NOT: "Prefer not to say"}
QUESTIONS = {"ethnicity": ("Ethnicity", ETHNICITIES), "disability": ("Does she have a disability?", DISABILITY),
             "sexual_orientation": ("Sexual orientation", ORIENTATIONS), "gender": ("Gender", GENDERS),
             "age_16_17": ("Is she aged 16 or 17?", AGE_16_17)}
# The return's categories of victims, each the answers that fall in it.
RETURN_CATEGORIES = {
    "bame_victims": ("Black, Asian and minority ethnic victims", "ethnicity", ("mixed", "asian", "black", "other")),
    "lgbt_victims": ("Lesbian, gay, bisexual and trans victims", None, ()),
    "disabled_victims": ("Victims with a disability", "disability", ("yes",)),
    "male_victims": ("Male victims", "gender", ("male",)),
    "victims_16_17": ("Victims aged 16-17", "age_16_17", ("yes",)),
}


@dataclass
class EqualityIn:
    ethnicity: OneOf(ETHNICITIES, "choose her ethnicity, or prefer not to say")
    disability: OneOf(DISABILITY, "say whether she has a disability, or prefer not to say")
    sexual_orientation: OneOf(ORIENTATIONS, "choose her sexual orientation, or prefer not to say")
    gender: OneOf(GENDERS, "choose her gender, or prefer not to say")
    age_16_17: OneOf(AGE_16_17, "say whether she is aged 16 or 17, or prefer not to say")
    ethnicity_detail: Line(100) = ""  # "another ethnic group", in her words


def record(session: AsyncSession, case_id: int, data: EqualityIn) -> None:
    """Keep her answers with the new case (no audit detail: the log is read outside the figures)."""
    session.add(EqualityAnswers(case_id=case_id, ethnicity=data.ethnicity,
                                ethnicity_detail=data.ethnicity_detail.strip() if data.ethnicity == "other" else "",
                                disability=data.disability, sexual_orientation=data.sexual_orientation,
                                gender=data.gender, age_16_17=data.age_16_17))


def in_category(answers: EqualityAnswers, measure: str) -> bool:
    if measure == "lgbt_victims":
        return answers.sexual_orientation in ("gay_or_lesbian", "bisexual", "other") \
            or answers.gender in ("trans", "non_binary")
    _, question, counted = RETURN_CATEGORIES[measure]
    return getattr(answers, question) in counted


async def counts(session: AsyncSession, case_ids: list[int]) -> dict[str, int]:
    """How many of the cases fall in each of the return's categories (the only read of the answers)."""
    rows = (await session.execute(select(EqualityAnswers).where(EqualityAnswers.case_id.in_(case_ids)))).scalars()
    found = {measure: 0 for measure in RETURN_CATEGORIES}
    for answers in rows:
        for measure in found:
            found[measure] += in_category(answers, measure)
    return found
