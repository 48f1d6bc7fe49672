"""Referral criteria (MARAC practice defaults)."""

import datetime as dt

import pytest

from coordinator.cases import Assessment, PersonIn, ReferralIn, assess_referral
from coordinator.errors import Invalid
from coordinator.settings import ReferralThresholds

TODAY = dt.date(2026, 11, 22)
DEFAULTS = ReferralThresholds()


def referral(**fields) -> ReferralIn:
    return ReferralIn(kind="domestic_abuse", people=[PersonIn("survivor", "Nora")], **fields)


def test_fourteen_yes_answers_is_high_risk_thirteen_is_not_enough():
    assert assess_referral(referral(checklist_score=14), DEFAULTS, TODAY).grounds == ("checklist",)
    assert assess_referral(referral(checklist_score=14), DEFAULTS, TODAY).risk_level == "high"
    with pytest.raises(Invalid, match="meets no criterion"):
        assess_referral(referral(checklist_score=13), DEFAULTS, TODAY)


def test_professional_judgement_raises_with_reasons():
    result = assess_referral(referral(checklist_score=8, judgement_level="high", judgement_reasons="threats to kill"),
                             DEFAULTS, TODAY)
    assert result.risk_level == "high" and result.grounds == ("professional_judgement",)


def test_professional_judgement_needs_reasons():
    with pytest.raises(Invalid) as error:
        assess_referral(referral(checklist_score=8, judgement_level="high"), DEFAULTS, TODAY)
    assert error.value.field == "judgement_reasons"


def test_professional_judgement_never_lowers_a_fourteen_plus_score():
    with pytest.raises(Invalid, match="never lower") as error:
        assess_referral(referral(checklist_score=18, judgement_level="medium", judgement_reasons="seems calmer"),
                        DEFAULTS, TODAY)
    assert error.value.field == "judgement_level"


def test_escalation_needs_three_incidents_in_twelve_months():
    assert assess_referral(referral(incidents_last_12_months=3), DEFAULTS, TODAY).grounds == ("escalation",)
    with pytest.raises(Invalid):
        assess_referral(referral(incidents_last_12_months=2), DEFAULTS, TODAY)


def test_repeat_is_any_incident_within_twelve_months_of_the_last_referral():
    last = dt.date(2026, 1, 10)
    within = referral(last_referral_on=last, last_incident_on=last + dt.timedelta(days=365))
    assert assess_referral(within, DEFAULTS, TODAY).grounds == ("repeat",)
    outside = referral(last_referral_on=last, last_incident_on=last + dt.timedelta(days=366))
    with pytest.raises(Invalid):
        assess_referral(outside, DEFAULTS, TODAY)


def test_thresholds_are_settings():
    local = ReferralThresholds(checklist_high=12, escalation_incidents=4)
    assert assess_referral(referral(checklist_score=12), local, TODAY).risk_level == "high"
    with pytest.raises(Invalid):
        assess_referral(referral(incidents_last_12_months=3), local, TODAY)


def test_several_grounds_are_all_recorded():
    result = assess_referral(referral(checklist_score=20, incidents_last_12_months=5,
                                      last_referral_on=dt.date(2026, 6, 1)), DEFAULTS, TODAY)
    assert result.grounds == ("checklist", "escalation", "repeat")


def test_score_out_of_range_names_the_field():
    with pytest.raises(Invalid) as error:
        assess_referral(referral(checklist_score=25), DEFAULTS, TODAY)
    assert error.value.field == "checklist_score"


def test_escalation_counts_the_dated_incidents_within_the_window_setting():
    dates = [TODAY - dt.timedelta(days=days) for days in (10, 100, 200)]
    assert "escalation" in assess_referral(referral(incident_dates=dates), DEFAULTS, TODAY).grounds
    narrow = ReferralThresholds(escalation_window_days=150)  # the third is outside: two of three
    with pytest.raises(Invalid, match="3\\+ incidents in 150 days"):
        assess_referral(referral(incident_dates=dates), narrow, TODAY)
    # Dated incidents decide over the number typed.
    with pytest.raises(Invalid, match="meets no criterion"):
        assess_referral(referral(incident_dates=dates[:1], incidents_last_12_months=5), DEFAULTS, TODAY)


def test_a_low_level_concern_is_accepted_as_a_threat_assessment_case_but_still_refused_as_domestic_abuse():
    concern = {"checklist_score": 2, "incidents_last_12_months": 1}
    threat = ReferralIn(kind="threat_assessment", people=[PersonIn("subject", "Sam")], **concern)
    assert assess_referral(threat, DEFAULTS, TODAY) == Assessment("standard", ("report",))
    with pytest.raises(Invalid, match="meets no criterion"):
        assess_referral(referral(**concern), DEFAULTS, TODAY)
    with pytest.raises(Invalid, match="never lower it"):  # the criteria's own checks still hold for every kind
        assess_referral(ReferralIn(kind="threat_assessment", people=[], checklist_score=20, judgement_level="medium",
                                   judgement_reasons="x"), DEFAULTS, TODAY)
