"""'Not reached for 30 days': failed contact attempts spanning 30 days or more with no successful
contact in between, computed from the follow-ups (the closure criterion of GBV step 6)."""

import datetime as dt
from types import SimpleNamespace

from coordinator.lifecycle.follow_ups import not_reached_days

DAY = dt.date(2026, 3, 1)


def attempts(*pairs: tuple[int, str | None]) -> list:
    return [SimpleNamespace(attempted_on=None if outcome is None else DAY + dt.timedelta(days=offset),
                            outcome=outcome) for offset, outcome in pairs]


def test_failed_attempts_spanning_thirty_days_count():
    assert not_reached_days(attempts((0, "not_reached"), (30, "not_reached"))) == 30
    assert not_reached_days(attempts((0, "unsafe_to_contact"), (12, "not_reached"), (41, "unsafe_to_contact"))) == 41


def test_less_than_thirty_days_or_a_single_attempt_is_not_the_criterion():
    assert not_reached_days(attempts((0, "not_reached"), (29, "not_reached"))) is None
    assert not_reached_days(attempts((0, "not_reached"))) is None
    assert not_reached_days([]) is None


def test_a_successful_contact_in_between_starts_the_count_again():
    assert not_reached_days(attempts((0, "not_reached"), (20, "reached"), (45, "not_reached"))) is None
    again = attempts((0, "not_reached"), (5, "reached"), (10, "not_reached"), (40, "not_reached"))
    assert not_reached_days(again) == 30
    assert not_reached_days(attempts((0, "not_reached"), (40, "not_reached"), (41, "reached"))) is None


def test_planned_contacts_not_yet_attempted_and_the_order_given_do_not_matter():
    given = attempts((40, "not_reached"), (3, None), (0, "not_reached"))
    assert not_reached_days(given) == 40
    same_day = attempts((0, "not_reached"), (30, "not_reached"), (30, "reached"))
    assert not_reached_days(same_day) is None  # reached that day, after the failed call
