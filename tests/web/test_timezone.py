"""Times are stored in UTC and entered and shown in the deployment's zone (COORDINATOR_TIMEZONE,
Europe/London by default): a chair who types 10:00 in July means 10:00 British Summer Time."""

from __future__ import annotations

import pytest

from coordinator.settings import Settings


async def test_a_time_typed_on_the_form_is_local_and_shown_local(client_for, people, case):
    chair = await client_for("chair")
    scheduled = await chair.post("/conferences", data={
        "title": "July MARAC", "scheduled_at": "2030-07-01T10:00", "chair_id": str(people["chair"].id),
        "case_ids": str(case["id"])})
    assert scheduled.status_code == 200, scheduled.text
    [conference] = [c for c in (await chair.get("/api/conferences")).json() if c["title"] == "July MARAC"]
    assert conference["scheduled_at"].startswith("2030-07-01T09:00:00")  # stored in UTC
    listing = (await chair.get("/conferences")).text
    assert "2030-07-01 10:00 BST" in listing
    form = (await chair.get("/conferences/new")).text
    assert "Date and time (Europe/London)" in form


def test_an_unknown_zone_stops_start_up_with_a_message():
    with pytest.raises(SystemExit) as stopped:
        Settings.from_env({"COORDINATOR_TIMEZONE": "Mars/Olympus"})
    assert "COORDINATOR_TIMEZONE" in str(stopped.value)
    assert Settings.from_env({"COORDINATOR_TIMEZONE": "America/New_York"}).zone.key == "America/New_York"
