"""An agency joins a case on her consent covering it, an approved override naming it, or a
threat-assessment team's recorded basis: without one it is refused with what is missing; with one,
the ground is recorded with the agency and in the audit. Through the API, the case page, and
scheduling a conference (ticked per case)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from coordinator.models import AuditEntry, CaseAgency, Conference
from tests.conftest import REFERRAL
from tests.sharing_steps import consent_to_join, decide, request_override, withdraw
from tests.web.support import whole_case


async def joined(sessionmaker, case_id: int) -> dict[str, str | None]:
    async with sessionmaker() as session:
        return dict((await session.execute(
            select(CaseAgency.agency, CaseAgency.ground).where(CaseAgency.case_id == case_id))).all())


async def audited_grounds(sessionmaker, case_id: int) -> dict[str, str]:
    async with sessionmaker() as session:
        details = (await session.execute(select(AuditEntry.detail).where(
            AuditEntry.case_id == case_id, AuditEntry.action == "case.agency_added"))).scalars()
        return {entry["agency"]: entry["ground"] for entry in map(json.loads, details)}


async def add(client, case_id: int, agency: str = "housing"):  # noqa: ANN201
    return await client.post(f"/api/cases/{case_id}/agencies", json={"agency": agency})


async def test_without_consent_or_override_an_agency_is_refused_naming_what_is_missing(
        client_for, case, sessionmaker):
    chair = await client_for("chair")
    refused = await add(chair, case["id"])
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(f"Housing association cannot join case {case['reference']}: "
                                               "no consent of hers covers Housing association and no approved "
                                               "override in force names it")
    assert "housing" not in await joined(sessionmaker, case["id"])
    assert "housing" not in await audited_grounds(sessionmaker, case["id"])
    assert {t["agency"] for t in (await chair.get(f"/api/cases/{case['id']}/tasks")).json()} == {
        "police", "social_work", "health"}  # no task list came with the refusal


async def test_her_consent_is_the_ground_recorded_and_audited_and_withdrawn_it_is_none(
        client_for, case, sessionmaker):
    chair = await client_for("chair")
    consent = await consent_to_join(chair, case["id"], "housing", "education")
    await withdraw(chair, case["id"], consent, ("police.call_outs", "education"))
    added = await add(chair, case["id"])
    assert added.status_code == 201, added.text
    assert {"key": "housing", "name": "Housing association", "ground": f"consent:{consent['id']}"} \
        in added.json()["agencies"]
    assert (await joined(sessionmaker, case["id"]))["housing"] == f"consent:{consent['id']}"
    assert (await audited_grounds(sessionmaker, case["id"]))["housing"] == f"consent:{consent['id']}"
    assert (await add(chair, case["id"], "education")).status_code == 409  # her consent to it was withdrawn
    assert (await audited_grounds(sessionmaker, case["id"]))["police"] == "intake"  # named on the referral


async def test_an_override_is_a_ground_once_a_supervisor_approves_it(client_for, case, sessionmaker):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    override = await request_override(chair, case["id"], ["police.call_outs"], ["housing"])
    assert (await add(chair, case["id"])).status_code == 409  # requested grants nothing
    assert (await decide(supervisor, case["id"], override["id"], "approve")).status_code == 201
    assert (await add(chair, case["id"])).status_code == 201
    assert (await joined(sessionmaker, case["id"]))["housing"] == f"override:{override['id']}"
    assert (await audited_grounds(sessionmaker, case["id"]))["housing"] == f"override:{override['id']}"


async def test_a_threat_assessment_teams_recorded_basis_is_a_ground_on_its_case_only(
        client_for, people, case, sessionmaker):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    created = await chair.post("/api/cases", json={
        "kind": "threat_assessment", "reported_by": "A classmate", "report_place": "Corridor", "concern": "Threats",
        "people": [{"role": "subject", "name": "Sam"}, {"role": "target", "name": "Year 10", "target_kind": "group"}],
        "agencies": ["police", "health"], "lead_agency": "police"})
    threat = created.json()
    refused = await add(chair, threat["id"])
    assert refused.status_code == 409 and "the team has no recorded basis" in refused.json()["detail"]
    basis = await supervisor.post(f"/api/cases/{threat['id']}/team-basis", json={"legal_basis": "duty_of_care"})
    assert basis.status_code == 201, basis.text
    assert (await add(chair, threat["id"])).status_code == 201
    basis_id = basis.json()["in_force"]["id"]
    assert (await joined(sessionmaker, threat["id"]))["housing"] == f"team:{basis_id}"
    assert (await audited_grounds(sessionmaker, threat["id"]))["housing"] == f"team:{basis_id}"


async def test_the_page_offers_each_agency_with_its_ground_and_refuses_one_without(client_for, case, sessionmaker):
    chair = await client_for("chair")
    page = (await whole_case(chair, case["id"])).text
    assert "Housing association · no consent or override covers it" in page
    assert "Police</strong>" in page and "joined by named on the referral form" in page
    refused = await chair.post(f"/cases/{case['id']}/agencies", data={"agency": "housing"})
    assert refused.status_code == 409
    assert "Housing association cannot join case" in refused.text and "record her consent" in refused.text
    assert "housing" not in await joined(sessionmaker, case["id"])

    consent = await consent_to_join(chair, case["id"], "housing")
    assert f"Housing association · by her consent (#{consent['id']})" in (await whole_case(chair, case["id"])).text
    added = await chair.post(f"/cases/{case['id']}/agencies", data={"agency": "housing"})
    assert added.status_code == 200, added.text  # back to the case's task lists
    assert f"joined by her consent (#{consent['id']})" in (await whole_case(chair, case["id"])).text
    assert (await audited_grounds(sessionmaker, case["id"]))["housing"] == f"consent:{consent['id']}"


def conference(people, case_ids: list[int], joining: list[dict], invited=("police", "housing")) -> dict:
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=14)).replace(microsecond=0)
    return {"title": "MARAC", "scheduled_at": when.isoformat(), "chair_id": people["chair"].id, "case_ids": case_ids,
            "participants": [{"user_id": people[agency].id} for agency in invited], "joining": joining}


async def conferences(sessionmaker) -> int:
    async with sessionmaker() as session:
        return len((await session.execute(select(Conference.id))).all())


async def test_scheduling_adds_the_ticked_agencies_each_on_its_ground_and_none_without(
        client_for, people, sessionmaker):
    chair = await client_for("chair")
    consented, other = [(await chair.post("/api/cases", json=REFERRAL)).json() for _ in range(2)]
    consent = await consent_to_join(chair, consented["id"], "housing")
    url = "/api/conferences"

    without = await chair.post(url, json=conference(people, [consented["id"], other["id"]], [
        {"case_id": consented["id"], "agency": "housing"}, {"case_id": other["id"], "agency": "housing"}]))
    assert without.status_code == 409 and f"cannot join case {other['reference']}" in without.json()["detail"]
    not_invited = await chair.post(url, json=conference(people, [consented["id"]], [
        {"case_id": consented["id"], "agency": "housing"}], invited=("police",)))
    assert not_invited.status_code == 400 and "nobody of Housing association is invited" in not_invited.json()["detail"]
    off_agenda = await chair.post(url, json=conference(people, [other["id"]], [
        {"case_id": consented["id"], "agency": "housing"}]))
    assert off_agenda.status_code == 400 and off_agenda.json()["field"] == "joining[0]"
    assert await conferences(sessionmaker) == 0 and "housing" not in await joined(sessionmaker, consented["id"])

    scheduled = await chair.post(url, json=conference(people, [consented["id"], other["id"]], [
        {"case_id": consented["id"], "agency": "housing"}]))
    assert scheduled.status_code == 201, scheduled.text
    assert (await joined(sessionmaker, consented["id"]))["housing"] == f"consent:{consent['id']}"
    assert (await audited_grounds(sessionmaker, consented["id"]))["housing"] == f"consent:{consent['id']}"
    assert "housing" not in await joined(sessionmaker, other["id"])  # not ticked: it asks per case


async def test_the_scheduling_form_ticks_per_case_and_says_why_a_case_cannot_be_joined(
        client_for, people, sessionmaker):
    chair = await client_for("chair")
    consented, other = [(await chair.post("/api/cases", json=REFERRAL)).json() for _ in range(2)]
    consent = await consent_to_join(chair, consented["id"], "housing")
    form = (await chair.get("/conferences/new")).text
    consented_part = form.split(f'id="joining-{consented["id"]}"')[1].split("</div>")[0]
    other_part = form.split(f'id="joining-{other["id"]}"')[1].split("</div>")[0]
    assert f'value="{consented["id"]}:housing"' in consented_part
    assert f"by her consent (#{consent['id']})" in consented_part
    assert f'value="{other["id"]}:housing"' not in other_part
    assert "Housing association cannot join: no consent of hers covers Housing association" in other_part

    when = (dt.datetime.now() + dt.timedelta(days=14)).strftime("%Y-%m-%dT%H:%M")
    fields = {"title": "MARAC", "scheduled_at": when, "chair_id": str(people["chair"].id),
              "case_ids": [str(consented["id"]), str(other["id"])], "invite": [str(people["housing"].id)]}
    refused = await chair.post("/conferences", data={**fields, "joining": [f"{other['id']}:housing"]})
    assert refused.status_code == 409 and "The conference was not scheduled" in refused.text
    assert await conferences(sessionmaker) == 0
    scheduled = await chair.post("/conferences", data={**fields, "joining": [f"{consented['id']}:housing"]})
    assert scheduled.status_code == 200 and await conferences(sessionmaker) == 1
    assert (await joined(sessionmaker, consented["id"]))["housing"] == f"consent:{consent['id']}"
