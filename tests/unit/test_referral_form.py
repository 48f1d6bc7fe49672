"""The referral form's own rules: the score counts the "yes" answers only, and a field asked only
in some cases (why she is not aware, the children's schools) is missing only then."""

from __future__ import annotations

import datetime as dt

from coordinator.lifecycle.referral_form import CHECKLIST, ReferralFormIn, missing, score

COMPLETE = ReferralFormIn(
    aware="yes", safe_number="07700 900461", safe_times="mornings", message_ok="no", fears="Mark", language="English",
    interpreter="no", access_needs="none", checklist=["yes"] * 14 + ["not_known"] * 5 + ["no"] * 5,
    concerns="threats", children_schools="", perpetrator="Mark Hill", duty_explained_by="PC Rowe",
    duty_explained_on=dt.date(2026, 12, 1))


def test_the_score_counts_yes_answers_only():
    assert score(COMPLETE) == 14
    assert score(ReferralFormIn(checklist=["not_known"] * len(CHECKLIST))) == 0


def test_why_she_is_not_aware_is_asked_only_when_she_is_not():
    assert missing(COMPLETE, has_children=False) == {}
    not_aware = ReferralFormIn(**{**COMPLETE.__dict__, "aware": "no"})
    assert list(missing(not_aware, has_children=False)) == ["not_aware_reason"]


def test_the_childrens_schools_are_asked_only_when_children_are_named():
    assert list(missing(COMPLETE, has_children=True)) == ["children_schools"]


def test_a_safe_word_is_optional_but_blank_text_is_missing():
    blank = ReferralFormIn(**{**COMPLETE.__dict__, "safe_word": "", "fears": "   "})
    assert list(missing(blank, has_children=False)) == ["fears"]
