"""Names and dates as typed: which parts of a name are compared, and which dates are a slip away."""

import datetime as dt

from coordinator.names import name_parts, slips_of


def test_a_name_is_compared_by_its_words_without_initials_or_identifiers():
    assert name_parts("Smyth, Nora J.") == ["smyth", "nora"]
    assert name_parts("Mary-Jane O'Neil") == ["mary-jane", "o'neil"]
    assert name_parts("child-b2cf7c80970541 Ella") == ["ella"]  # a reference typed as a name matches no one


def test_the_slips_of_a_date_of_birth():
    slips = slips_of(dt.date(1990, 3, 12))
    assert {dt.date(1990, 3, 21), dt.date(1990, 3, 13), dt.date(1990, 12, 3), dt.date(1909, 3, 12)} <= slips
    assert dt.date(1990, 3, 12) not in slips and dt.date(1985, 7, 30) not in slips
