"""Every part a service can name in a domain event is mapped to what it moves on a live page, so
no announced change is lost (or fails the page) for want of a mapping."""

from coordinator.events import CASE_PARTS, CONFERENCE_PARTS
from coordinator.web.live.hub import CASE_PART_ASPECTS, CONFERENCE_PART_ASPECTS


def test_every_part_an_event_may_name_moves_something_known_on_the_live_page():
    assert set(CASE_PART_ASPECTS) == CASE_PARTS
    assert set(CONFERENCE_PART_ASPECTS) == CONFERENCE_PARTS
