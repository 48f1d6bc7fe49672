"""The shared duties' notion of a finished task is the tasks' own: a duty marked "not taken" is
not moved to a new holder as if it were still to do."""

from coordinator import duties, tasks


def test_shared_duties_finish_with_the_same_statuses_as_tasks():
    assert set(duties.DONE) == set(tasks.CLOSED_STATUSES)
    assert "not_taken" in tasks.CLOSED_STATUSES and "not_taken" in tasks.NEEDS_REASON
