"""A case shows her earlier and later cases (those linked as the same person), through the gate: a
reader whose agency is not on the other case learns only that it exists."""

from __future__ import annotations

import pytest

from tests.web.test_intake_check import EARLIER, referral

HIDDEN = "a case your agency is not part of: ask the coordinator"


@pytest.fixture
async def pair(client_for, people) -> tuple[dict, dict]:
    chair = await client_for("chair")
    earlier = (await chair.post("/api/cases", json=EARLIER)).json()
    later = await chair.post("/api/cases", json=referral(
        "Nora Smyth", agencies=["police", "housing"], duplicates=[{"case_id": earlier["id"], "same": True}]))
    assert later.status_code == 201, later.text
    return earlier, later.json()


async def test_each_case_shows_the_other_to_whoever_may_see_both(client_for, pair):
    earlier, later = pair
    for username in ("chair", "pc"):
        reader = await client_for(username)
        later_page = (await reader.get(f"/cases/{later['id']}")).text
        assert f'Earlier case: <a href="/cases/{earlier["id"]}">{earlier["reference"]}</a>' in later_page
        assert f'Later case: <a href="/cases/{later["id"]}">{later["reference"]}</a>' in (
            await reader.get(f"/cases/{earlier['id']}")).text
        linked = (await reader.get(f"/api/cases/{later['id']}")).json()["linked"]
        assert [(c["case_id"], c["later"]) for c in linked] == [(earlier["id"], False)]


async def test_an_agency_not_on_the_earlier_case_learns_only_that_it_exists(client_for, pair):
    earlier, later = pair
    housing = await client_for("hou")
    page = (await housing.get(f"/cases/{later['id']}")).text
    assert f"Earlier case: {HIDDEN}" in page and earlier["reference"] not in page
    assert (await housing.get(f"/api/cases/{later['id']}")).json()["linked"] == [
        {"case_id": None, "reference": None, "later": False, "referred_on": None}]


async def test_a_case_decided_not_the_same_is_not_shown(client_for, people):
    chair = await client_for("chair")
    earlier = (await chair.post("/api/cases", json=EARLIER)).json()
    later = (await chair.post("/api/cases", json=referral(
        "Nora Smyth", duplicates=[{"case_id": earlier["id"], "same": False}]))).json()
    assert (await chair.get(f"/api/cases/{later['id']}")).json()["linked"] == []
    assert earlier["reference"] not in (await chair.get(f"/cases/{later['id']}")).text
