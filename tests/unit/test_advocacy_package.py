"""Advocacy (the survivor's independent advocate, IDVA) is an agency installed from a package of its
own (plugins/advocacy, `pip install -e`), like education: the core names it nowhere, and it
contributes its categories, responsibilities, tasks and services through the entry point alone.
On a case where nobody holds victim contact, the advocate takes it by default."""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib.metadata import entry_points

from coordinator import cli
from coordinator.models import utcnow
from coordinator.plugins import ENTRY_POINT_GROUP
from tests.sharing_steps import consent_to_join
from tests.unit.conftest import task_titles

CORE = "case-conference-coordinator"
REFERRAL = {"kind": "domestic_abuse", "checklist_score": 15, "lead_agency": "police",
            "people": [{"role": "survivor", "name": "Nora"}, {"role": "child", "name": "Ella"}]}


def test_advocacy_is_found_through_the_entry_point_of_its_own_package(root):
    [found] = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "advocacy"]
    assert (found.value, found.dist.name) == ("coordinator_advocacy", "coordinator-advocacy")
    own = tomllib.loads((root / "plugins/advocacy/pyproject.toml").read_text())
    assert own["project"]["entry-points"][ENTRY_POINT_GROUP] == {"advocacy": "coordinator_advocacy"}
    assert "advocacy" not in (root / "pyproject.toml").read_text()  # neither an entry point nor a package of the core's
    assert "pip install --quiet -e plugins/advocacy" in (root / "Makefile").read_text()


def test_coordinator_agencies_lists_advocacy_with_its_categories_and_responsibilities(capsys):
    assert cli.main(["agencies"]) == 0
    listing = capsys.readouterr().out
    advocacy = listing[listing.index("advocacy: "):].split("\n", 6)
    assert advocacy[0] == "advocacy: Advocacy (IDVA)"
    assert advocacy[1] == "  module: coordinator_advocacy"
    assert advocacy[2] == ("  hooks: agency_identity, agency_information_categories, agency_responsibilities, "
                           "agency_services, agency_task_list")
    assert advocacy[3] == ("  categories: advocacy.contact_history, advocacy.safety_planning, "
                           "advocacy.views_and_wishes")
    assert advocacy[4] == "  responsibilities: victim_contact, meeting_advocacy"


async def test_the_advocate_joins_holding_victim_contact_with_her_tasks_and_services(app, client_for, make_user):
    await make_user("chair", "social_work", "coordinator")
    await make_user("advocacy.rep", "advocacy")
    chair, advocate = await client_for("chair"), await client_for("advocacy.rep")
    opened = await chair.post("/api/cases", json=REFERRAL | {"agencies": ["police", "advocacy"]})
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    roles = (await chair.get(f"/api/cases/{case_id}/roles")).json()
    held = {(r["responsibility"], r["agency"], r["status"]) for r in roles}
    assert held >= {("victim_contact", "advocacy", "confirmed"), ("meeting_advocacy", "advocacy", "confirmed")}
    titles = await task_titles(chair, case_id, "advocacy")
    assert "Ask her views and wishes before the meeting and record them on the case" in titles
    assert "Talk through the children's safety with her and bring her view of it to the meeting" in titles
    asked = (utcnow().date() - dt.timedelta(days=1)).isoformat()
    recorded = await advocate.put(f"/api/cases/{case_id}/views-and-wishes",
                                  json={"asked_on": asked, "views": "She wants to stay in her flat"},
                                  headers={"x-csrftoken": advocate.cookies["csrftoken"]})
    assert recorded.status_code == 200 and recorded.json()["holder"] == "advocacy", recorded.text

    services = {s["name"]: s for s in (await chair.get("/api/services")).json()}
    assert services["Independent domestic violence advocate (IDVA)"]["agency"] == "advocacy"
    consent_form = (await chair.get(f"/cases/{case_id}/consents")).text
    assert 'value="advocacy.views_and_wishes"' in consent_form and "Contact history" in consent_form


async def test_joining_never_displaces_whoever_holds_victim_contact(app, client_for, make_user):
    await make_user("chair", "social_work", "coordinator")
    chair = await client_for("chair")
    case_id = (await chair.post("/api/cases", json=REFERRAL | {"agencies": ["police"]})).json()["id"]
    given = await chair.post(f"/api/cases/{case_id}/roles", json={"responsibility": "victim_contact",
                                                                    "agency": "police", "version": 0})
    assert given.status_code == 201, given.text
    await consent_to_join(chair, case_id, "advocacy")
    assert (await chair.post(f"/api/cases/{case_id}/agencies", json={"agency": "advocacy"})).status_code == 201
    roles = {r["responsibility"]: r["agency"] for r in (await chair.get(f"/api/cases/{case_id}/roles")).json()}
    assert roles["victim_contact"] == "police" and roles["meeting_advocacy"] == "advocacy"
    threat = await chair.post("/api/cases", json={
        "kind": "threat_assessment", "judgement_level": "high", "judgement_reasons": "threat", "agencies": ["advocacy"],
        "people": [{"role": "subject", "name": "Sam"}, {"role": "target", "name": "Gym", "target_kind": "place"}]})
    assert await task_titles(chair, threat.json()["id"], "advocacy") == []  # she works with survivors of abuse
