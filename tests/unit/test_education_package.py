"""Education is an agency installed from a package of its own (plugins/education, `pip install -e`),
exactly as a third-party agency would be: the core names it nowhere, and it contributes its tasks
and strategies through the entry point alone."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points

from coordinator import cli
from coordinator.lifecycle import strategies
from coordinator.plugins import ENTRY_POINT_GROUP
from tests.unit.conftest import task_titles

CORE = "case-conference-coordinator"


def test_education_is_found_through_the_entry_point_of_its_own_package(root):
    [found] = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "education"]
    assert (found.value, found.dist.name) == ("coordinator_education", "coordinator-education")
    own = tomllib.loads((root / "plugins/education/pyproject.toml").read_text())
    assert own["project"]["entry-points"][ENTRY_POINT_GROUP] == {"education": "coordinator_education"}
    core = (root / "pyproject.toml").read_text()
    assert "education" not in core  # neither an entry point nor a package of the core's
    packaged_apart = {"education", "advocacy"}
    assert all(ep.dist.name == CORE for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in packaged_apart)


def test_coordinator_agencies_lists_education_with_its_hooks(capsys):
    assert cli.main(["agencies"]) == 0
    listing = capsys.readouterr().out.split("\n\n")[0]
    education = listing[listing.index("education: "):].split("\n", 6)
    assert education[0] == "education: Education (threat-assessment team)"
    assert education[1] == "  module: coordinator_education"
    assert education[2] == ("  hooks: agency_identity, agency_information_categories, agency_responsibilities, "
                            "agency_strategies, agency_task_list")
    assert "education.counselling_notes" in education[3]


async def test_hook_agency_strategies_of_a_separate_package_reach_the_catalogue_and_its_tasks_the_case(
        app, client_for, make_user):
    catalogue = strategies.catalogue(app.state.registry)
    assert catalogue["subject.discipline.separation"].agencies == ["education"]
    separation = catalogue["subject.discipline.separation"]
    assert [d.text for d in separation.details] == ["Suspension", "Termination/expulsion"]
    await make_user("chair", "social_work", "coordinator")
    chair = await client_for("chair")
    opened = await chair.post("/api/cases", json={
        "kind": "threat_assessment", "judgement_level": "high", "judgement_reasons": "threat",
        "agencies": ["education"],
        "people": [{"role": "subject", "name": "Sam"}, {"role": "target", "name": "Gym", "target_kind": "place"}]})
    assert opened.status_code == 201, opened.text
    titles = await task_titles(chair, opened.json()["id"], "education")
    assert "Couple any suspension, expulsion or termination with containment and support" in titles
    domestic = await chair.post("/api/cases", json={"kind": "domestic_abuse", "checklist_score": 15,
                                                    "agencies": ["education"], "people": [{"role": "survivor",
                                                                                           "name": "Nora"}]})
    assert await task_titles(chair, domestic.json()["id"], "education") == []  # the team's list is for its cases
