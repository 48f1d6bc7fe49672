"""Agencies are plugins found through the entry point group; broken ones stop start-up."""

import ast
import re
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from coordinator import hookspecs
from coordinator.app import create_app
from coordinator.plugins import PluginError
from tests.conftest import registry_with
from tests.web.support import whole_case


def test_the_three_built_in_agencies_come_from_entry_points():
    registry = registry_with()
    own = {e.name for e in entry_points(group="coordinator.agencies") if e.dist.name == "case-conference-coordinator"}
    assert own == {"health", "police", "social_work"}  # education comes from its own package
    assert own <= set(registry.keys)
    assert registry.name("social_work") == "Social work"
    assert "police.call_outs" in registry.get("police").categories
    assert registry.can_take("social_work", "child_protection") and not registry.can_take("health", "child_protection")


def test_a_misspelled_hook_stops_start_up_naming_plugin_and_hook():
    with pytest.raises(PluginError) as error:
        registry_with(("misspelled", "tests.fake_agencies.misspelled"))
    assert "'misspelled'" in str(error.value) and "agency_task_lists" in str(error.value)


def test_a_hook_that_raises_at_start_up_names_plugin_and_hook():
    with pytest.raises(PluginError) as error:
        registry_with(("raising", "tests.fake_agencies.raising"))
    assert "'raising'" in str(error.value) and "agency_information_categories" in str(error.value)
    assert "category table missing" in str(error.value)


def test_an_entry_point_whose_module_is_missing_names_the_plugin():
    with pytest.raises(PluginError, match="'ghost'.*could not be loaded"):
        registry_with(("ghost", "tests.fake_agencies.does_not_exist"))


def test_the_server_refuses_to_start_with_a_broken_plugin(settings):
    with pytest.raises(PluginError, match="misspelled"):
        create_app(settings, registry_with(("misspelled", "tests.fake_agencies.misspelled")))


async def test_a_fourth_agency_works_end_to_end_without_core_changes(client_for, people):
    """housing is registered only through an entry point; its tasks and name reach the pages."""
    chair = await client_for("chair")
    referral = {"kind": "domestic_abuse", "checklist_score": 16, "agencies": ["housing"],
                "people": [{"role": "survivor", "name": "Ada"}, {"role": "child", "name": "Kim"}]}
    case = (await chair.post("/api/cases", json=referral)).json()
    assert case["agencies"] == [{"key": "housing", "name": "Housing association", "ground": "intake"}]
    housing = await client_for("hou")
    titles = [t["title"] for t in (await housing.get("/api/dashboard")).json()["tasks"]]
    assert titles == ["Assess the need for emergency accommodation",
                      "Find family-sized accommodation near the children's school"]
    page = await whole_case(housing, case['id'])
    assert "Housing association" in page.text and "Assess the need for emergency accommodation" in page.text


def test_every_hook_is_documented_and_prefixed():
    specs = [name for name in dir(hookspecs) if name.startswith(("agency_", "case_")) and callable(getattr(hookspecs, name))]
    assert len(specs) >= 8
    for name in specs:
        function = getattr(hookspecs, name)
        assert getattr(function, "coordinator_spec", None) is not None, f"{name} is not a hook spec"
        assert function.__doc__ and len(function.__doc__.split()) > 8, f"{name} needs a docstring"


def test_the_core_names_no_agency(root):
    """coordinator/ knows agencies only as plugins: none of the built-in keys may appear in it
    (the health-check route is the one use of the word 'health' that is not an agency)."""
    keys = registry_with().keys
    offenders = []
    for path in (root / "coordinator").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            cleaned = line.replace('"/health"', "").replace("def health", "").replace("/health", "")
            cleaned = re.sub(r"health check", "", cleaned)
            if any(re.search(rf"\b{key}\b", cleaned) for key in keys):
                offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert offenders == []


def test_templates_of_the_core_name_no_agency(root):
    keys = registry_with().keys
    for path in (root / "templates").glob("*.html"):
        text = path.read_text()
        for key in keys:
            assert not re.search(rf"['\"]{key}['\"]", text), f"{path.name} names {key}"


def test_plugins_register_only_through_the_entry_point_group(root):
    """No core module imports an agency package."""
    for path in (root / "coordinator").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.startswith("coordinator_") for n in names), f"{path} imports {names}"


def test_pyproject_declares_the_built_ins_as_entry_points(root):
    text = Path(root / "pyproject.toml").read_text()
    assert '[project.entry-points."coordinator.agencies"]' in text
    for key in ("police", "social_work", "health"):
        assert f'{key} = "coordinator_{key}"' in text


async def test_a_plugin_failing_at_run_time_is_named_and_nothing_is_saved(settings, people, make_user):
    """The fake agency's task list raises when it joins a case: 502 naming it, no case written."""
    from tests.conftest import Client

    registry = registry_with(("failing_tasks", "tests.fake_agencies.failing_tasks"))
    app = create_app(settings, registry)
    chair = Client(app)
    await chair.login("chair")
    response = await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "checklist_score": 15, "people": [{"role": "survivor", "name": "Nora"}],
        "agencies": ["failing_tasks"]})
    assert response.status_code == 502
    assert "'failing_tasks'" in response.json()["detail"] and "agency_task_list" in response.json()["detail"]
    assert (await chair.get("/api/cases")).json() == []
    await chair.aclose()
    await app.state.engine.dispose()
