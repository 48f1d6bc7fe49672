"""One test per hook in coordinator/hookspecs.py, each through what a user of the coordinator
would notice, with probation (tests/fake_agencies/probation.py) as the agency. The last test
keeps the list complete: a new hook without a ``test_hook_<name>`` test fails it."""

from __future__ import annotations

import ast
from pathlib import Path

import pluggy
import pytest

from coordinator import hookspecs
from coordinator.plugins import PluginError
from tests.conftest import registry_with
from tests.fake_agencies import probation
from tests.sharing_steps import consent_to_join, grant_consent, record_item
from tests.unit.conftest import open_case, seen_through_gate, task_titles


async def test_hook_agency_identity_names_the_agency_wherever_it_appears(client_for, staff):
    chair = await client_for("chair")
    case = await open_case(chair, ["probation"])
    assert case["agencies"] == [{"key": "probation", "name": "Probation service", "ground": "intake"}]
    [task] = [t for t in (await chair.get(f"/api/cases/{case['id']}/tasks")).json() if t["source"] == "standing"]
    assert task["agency_name"] == "Probation service"


async def test_hook_agency_task_list_gives_the_agency_its_tasks_as_it_joins_a_case(client_for, staff):
    chair = await client_for("chair")
    with_children = await open_case(chair, ["probation"], children=True)
    adults_only = await open_case(chair, ["police"], children=False)
    assert await task_titles(chair, with_children["id"], "probation") == [probation.SUPERVISE, probation.RECALL, probation.CHILD_CONTACT]

    await consent_to_join(chair, adults_only["id"], "probation")
    added = await chair.post(f"/api/cases/{adults_only['id']}/agencies", json={"agency": "probation"})
    assert added.status_code == 201, added.text
    assert await task_titles(chair, adults_only["id"], "probation") == [probation.SUPERVISE, probation.RECALL]


async def test_hook_agency_information_categories_are_what_the_agency_may_record(client_for, staff):
    chair, officer = await client_for("chair"), await client_for("po")
    case = await open_case(chair, ["probation"])
    item = await record_item(officer, case["id"], "probation.mappa", "MAPPA level 2, plan reviewed monthly")
    assert (item["category_label"], item["sensitivity"]) == ("MAPPA level and plan", "high")

    undeclared = await officer.post(f"/api/cases/{case['id']}/items",
                                    json={"category": "probation.diary", "nature": "fact", "text": "seen on Monday"})
    assert undeclared.status_code == 400 and undeclared.json()["field"] == "category"


async def test_hook_agency_responsibilities_are_the_roles_the_agency_can_take(client_for, staff, app):
    chair = await client_for("chair")
    case = await open_case(chair, ["police", "probation"])
    scheduled = await chair.post("/api/conferences", json={
        "title": "MARAC", "scheduled_at": "2030-01-07T10:00:00Z", "chair_id": staff["chair"].id,
        "case_ids": [case["id"]]})
    assert scheduled.status_code == 201, scheduled.text
    url = f"/api/conferences/{scheduled.json()['id']}"
    async with app.state.live.channels:  # the role map is announced to the room
        assert (await chair.post(f"{url}/statement")).status_code == 200
        assert (await chair.post(f"{url}/start", json={"version": 1})).status_code == 200

        role = {"case_id": case["id"], "responsibility": "offender_supervision", "version": 0}
        refused = await chair.post(f"{url}/roles", json={**role, "agency": "police"})  # police never declared it
        assert refused.status_code == 400 and refused.json()["field"] == "agency"
        assigned = await chair.post(f"{url}/roles", json={**role, "agency": "probation"})
    assert assigned.status_code == 200, assigned.text
    [held] = [r for r in assigned.json()["roles"] if r["key"] == "offender_supervision"]
    assert (held["agency"], held["label"]) == ("probation", "Offender supervision")


async def test_hook_agency_restrict_disclosure_withholds_from_the_consent_gate(client_for, staff, app, sessionmaker):
    chair, officer = await client_for("chair"), await client_for("po")
    case = await open_case(chair, ["police", "health", "probation"])
    item = await record_item(officer, case["id"], "probation.mappa", "MAPPA level 2, plan reviewed monthly")
    await grant_consent(chair, case["id"], ["probation.mappa"], ["police", "health"])

    withheld = await seen_through_gate(sessionmaker, app, staff["health"], case["id"], item["id"])
    assert withheld.withheld and withheld.text is None and withheld.decision.reason == probation.MAPPA_WITHHELD
    police = await seen_through_gate(sessionmaker, app, staff["police"], case["id"], item["id"])
    assert police.text == "MAPPA level 2, plan reviewed monthly"  # the restriction is per reader


async def test_hook_case_information_recorded_reaction_adds_a_task_for_the_agency(client_for, staff):
    chair, police = await client_for("chair"), await client_for("pc")
    case = await open_case(chair, ["police", "probation"])
    assert probation.REVIEW not in await task_titles(chair, case["id"], "probation")
    await record_item(police, case["id"], "police.call_outs", "Two call-outs in May")
    assert probation.REVIEW in await task_titles(chair, case["id"], "probation")


async def test_hook_agency_routes_are_served_under_the_agency_prefix(client_for, staff):
    officer = await client_for("po")
    response = await officer.get("/probation/summary")
    assert response.status_code == 200 and response.json() == {"agency": "probation", "caseload": "open"}
    anonymous = await client_for()
    assert (await anonymous.get("/probation/summary")).url.path == "/login"  # behind the same login


def test_hook_agency_routes_outside_the_agency_prefix_stop_start_up():
    with pytest.raises(PluginError) as error:
        registry_with(("squatter", "tests.fake_agencies.squatter"))
    assert "'squatter'" in str(error.value) and "agency_routes" in str(error.value)
    assert "/cases/export-all" in str(error.value)


async def test_hook_agency_template_dir_renders_the_agency_templates_under_its_prefix(client_for, staff):
    officer = await client_for("po")
    page = await officer.get("/probation/welcome")
    assert page.status_code == 200 and "The Probation service welcomes you to its own page." in page.text
    missing = await officer.get("/no-such-page")  # the core's error page, not probation's error.html
    assert missing.status_code == 404 and "Probation's error page" not in missing.text


def _hook_names() -> list[str]:
    pm = pluggy.PluginManager("coordinator")
    return sorted(name for name in dir(hookspecs) if pm.parse_hookspec_opts(hookspecs, name) is not None)


def _hook_tested_by(test_name: str, hooks: list[str]) -> str | None:
    """The hook a ``test_hook_<name>...`` test is about; the longest name wins, so a hook whose
    name starts another's (agency_task, agency_task_list) is not credited with its tests."""
    matching = [h for h in hooks if test_name == f"test_hook_{h}" or test_name.startswith(f"test_hook_{h}_")]
    return max(matching, key=len, default=None)


def test_every_hook_has_a_test_of_its_own():
    hooks = _hook_names()
    assert len(hooks) >= 8, hooks
    tested = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_hook_"):
                tested.add(_hook_tested_by(node.name, hooks))
    assert [h for h in hooks if h not in tested] == [], "every hook needs a test named test_hook_<hook name>_..."
