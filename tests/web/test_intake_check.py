"""At intake, the people referred are matched against existing cases: the coordinator is shown the
candidates with why they match and decides for each ("same person" links the cases and makes the
referral a repeat when the earlier one falls within the repeat window; "not the same" is remembered,
so the pair is not asked again). Nothing is created while a candidate is undecided."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select, update

from coordinator.models import AuditEntry, Case, CaseLink, CaseRevision
from tests.referral_form_steps import page_fields

EARLIER = {
    "kind": "domestic_abuse", "checklist_score": 15, "agencies": ["police"],
    "people": [{"role": "survivor", "name": "Norah Smith", "born_on": "1990-03-12"}],
}


def referral(name: str, born_on: str | None = "1990-03-12", **more) -> dict:
    return {"kind": "domestic_abuse", "checklist_score": 15, "agencies": ["police"],
            "people": [{"role": "survivor", "name": name, "born_on": born_on}], **more}


@pytest.fixture
async def chair(client_for, people):
    return await client_for("chair")


@pytest.fixture
async def earlier(chair) -> dict:
    response = await chair.post("/api/cases", json=EARLIER)
    assert response.status_code == 201, response.text
    return response.json()


async def case_count(sessionmaker) -> int:
    async with sessionmaker() as db:
        return (await db.execute(select(func.count()).select_from(Case))).scalar()


@pytest.mark.parametrize(("name", "born_on", "why"), [
    ("Nora Smyth", "1990-03-12", "survivor “Nora Smyth” and survivor “Norah Smith”: names sound alike, same date of birth"),
    ("Smith Norah", None, "survivor “Smith Norah” and survivor “Norah Smith”: same name"),
    ("Norah Smith", "1990-03-21", "survivor “Norah Smith” and survivor “Norah Smith”: same name, date of birth one slip away"),
])
async def test_a_possible_earlier_case_stops_the_referral_with_why(chair, earlier, sessionmaker, name, born_on, why):
    response = await chair.post("/api/cases", json=referral(name, born_on))
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["field"] == "duplicates"
    assert body["extra"]["candidates"] == [{"case_id": earlier["id"], "reference": earlier["reference"],
                                            "stage": "referral", "referred_on": dt.date.today().isoformat(),
                                            "reasons": [why]}]
    assert await case_count(sessionmaker) == 1


@pytest.mark.parametrize(("name", "born_on"), [("Norah Smith", "1985-07-30"), ("Norah", None), ("Priya Patel", "1990-03-12")])
async def test_someone_else_is_not_a_candidate(chair, earlier, name, born_on):
    assert (await chair.post("/api/cases", json=referral(name, born_on))).status_code == 201


async def test_the_same_person_links_the_cases_and_makes_a_repeat(chair, earlier, sessionmaker):
    response = await chair.post("/api/cases", json=referral(
        "Nora Smyth", duplicates=[{"case_id": earlier["id"], "same": True}]))
    assert response.status_code == 201, response.text
    later = response.json()
    async with sessionmaker() as db:
        link = (await db.execute(select(CaseLink))).scalar_one()
        case = await db.get(Case, later["id"])
    assert (link.earlier_case_id, link.later_case_id, link.same) == (earlier["id"], later["id"], True)
    assert "repeat" in case.referral_grounds.split(",") and case.last_referral_on == dt.date.today()


async def test_an_earlier_case_outside_the_repeat_window_is_linked_but_no_repeat(chair, earlier, sessionmaker):
    async with sessionmaker() as db:
        await db.execute(update(Case).where(Case.id == earlier["id"]).values(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=400)))
        await db.commit()
    response = await chair.post("/api/cases", json=referral("Nora Smyth", duplicates=[{"case_id": earlier["id"], "same": True}]))
    assert response.status_code == 201, response.text
    async with sessionmaker() as db:
        case = await db.get(Case, response.json()["id"])
    assert case.referral_grounds == "checklist"


async def test_a_repeat_alone_is_enough_to_refer(chair, earlier):
    """Repeat is a referral criterion of its own: no checklist score needed when she was referred within the window."""
    no_score = {**referral("Nora Smyth"), "checklist_score": None}
    assert (await chair.post("/api/cases", json=no_score)).status_code == 409
    assert (await chair.post("/api/cases", json={**no_score, "duplicates": [{"case_id": earlier["id"], "same": False}]})
            ).status_code == 400
    linked = await chair.post("/api/cases", json={**no_score, "duplicates": [{"case_id": earlier["id"], "same": True}]})
    assert linked.status_code == 201, linked.text


async def test_not_the_same_is_remembered_and_not_asked_again(chair, earlier, sessionmaker):
    response = await chair.post("/api/cases", json=referral(
        "Nora Smyth", duplicates=[{"case_id": earlier["id"], "same": False}]))
    assert response.status_code == 201, response.text
    later = response.json()
    async with sessionmaker() as db:
        link = (await db.execute(select(CaseLink))).scalar_one()
        case = await db.get(Case, later["id"])
    assert link.same is False and "repeat" not in case.referral_grounds
    # Checked again from either case, the decided pair is not offered; a third case still finds both.
    assert (await chair.get(f"/api/cases/{later['id']}/possible-earlier-cases")).json() == []
    assert (await chair.get(f"/api/cases/{earlier['id']}/possible-earlier-cases")).json() == []
    third = await chair.post("/api/cases", json=referral("Norah Smith"))
    assert {c["case_id"] for c in third.json()["extra"]["candidates"]} == {earlier["id"], later["id"]}


async def test_an_existing_case_can_be_linked_once(chair, client_for, earlier):
    later = (await chair.post("/api/cases", json=referral("Norah Smith", "1985-07-30"))).json()
    assert (await chair.get(f"/api/cases/{later['id']}/possible-earlier-cases")).json() == []
    decided = await chair.post(f"/api/cases/{later['id']}/links", json={"case_id": earlier["id"], "same": True})
    assert decided.status_code == 201, decided.text
    assert decided.json() == {"earlier_case_id": earlier["id"], "later_case_id": later["id"], "same": True}
    again = await chair.post(f"/api/cases/{earlier['id']}/links", json={"case_id": later["id"], "same": False})
    assert again.status_code == 409
    member = await client_for("pc")
    assert (await member.post(f"/api/cases/{later['id']}/links", json={"case_id": earlier["id"], "same": True})
            ).status_code == 403


@pytest.mark.parametrize(("decisions", "field"), [
    ([{"case_id": 999999, "same": True}], "duplicates[1].case_id"),
    ([{"case_id": "x", "same": True}], "duplicates[1].case_id"),
])
async def test_a_decision_on_no_such_case_is_refused(chair, earlier, sessionmaker, decisions, field):
    body = referral("Nora Smyth", duplicates=[{"case_id": earlier["id"], "same": False}, *decisions])
    response = await chair.post("/api/cases", json=body)
    assert response.status_code == 400 and response.json()["field"] == field, response.text
    assert await case_count(sessionmaker) == 1


async def test_the_referral_form_asks_and_creates_once_answered(chair, earlier, sessionmaker):
    form = {"kind": "domestic_abuse", "survivor_name": "Nora Smyth", **page_fields(15), "agencies": ["police"]}
    asked = await chair.post("/cases", data=form)
    assert asked.status_code == 409
    assert earlier["reference"] in asked.text and "names sound alike" in asked.text
    assert f'name="duplicate_{earlier["id"]}" value="same"' in asked.text and 'value="Nora Smyth"' in asked.text
    created = await chair.post("/cases", data={**form, f"duplicate_{earlier['id']}": "same"})
    assert created.status_code == 200 and "Case C-" in created.text
    async with sessionmaker() as db:
        assert (await db.execute(select(CaseLink.same))).scalars().all() == [True]


async def test_a_place_or_group_targeted_again_is_not_a_candidate_but_a_person_is(chair):
    def threat(target: str, kind: str) -> dict:
        return {"kind": "threat_assessment", "judgement_level": "high", "judgement_reasons": "a specific threat",
                "agencies": ["police"], "people": [{"role": "target", "name": target, "target_kind": kind}]}
    for kind in ("place", "group"):
        assert (await chair.post("/api/cases", json=threat(f"Westfield {kind} hall", kind))).status_code == 201
        assert (await chair.post("/api/cases", json=threat(f"Westfield {kind} hall", kind))).status_code == 201
    assert (await chair.post("/api/cases", json=threat("Alex Morgan", "person"))).status_code == 201
    assert (await chair.post("/api/cases", json=threat("Alex Morgan", "person"))).status_code == 409


async def test_a_referral_for_an_open_case_is_added_to_it_not_a_second_case(chair, earlier, sessionmaker):
    response = await chair.post("/api/cases", json=referral(
        "Nora Smyth", add_to_case=earlier["id"], referring_agency="police", last_incident_on=dt.date.today().isoformat(),
        summary="Police called out again last night"))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == earlier["id"]
    assert await case_count(sessionmaker) == 1
    async with sessionmaker() as db:
        revision = (await db.execute(select(CaseRevision).where(CaseRevision.case_id == earlier["id"]))).scalar_one()
        audited = (await db.execute(select(AuditEntry.action).where(AuditEntry.case_id == earlier["id"]))).scalars().all()
        case = await db.get(Case, earlier["id"])
    assert revision.kind == "referral_added" and "Police called out again last night" in revision.reason
    assert json.loads(revision.changes)["referral"][1]["people"] == ["survivor: Nora Smyth"]
    assert "case.referral_added" in audited and case.last_incident_on == dt.date.today()
    history = await chair.get(f"/cases/{earlier['id']}/history")
    assert "Police called out again last night" in history.text


async def test_only_an_open_case_the_check_found_takes_a_referral(chair, earlier, sessionmaker):
    other = await chair.post("/api/cases", json=referral("Priya Patel", "1980-01-01"))
    assert other.status_code == 201
    elsewhere = await chair.post("/api/cases", json=referral("Nora Smyth", add_to_case=other.json()["id"]))
    assert elsewhere.status_code == 400 and elsewhere.json()["field"] == "add_to_case"
    async with sessionmaker() as db:
        await db.execute(update(Case).where(Case.id == earlier["id"]).values(stage="closed", closed_at=dt.datetime.now(dt.UTC)))
        await db.commit()
    closed = await chair.post("/api/cases", json=referral("Nora Smyth", add_to_case=earlier["id"]))
    assert closed.status_code == 409 and closed.json()["field"] == "add_to_case"
    assert await case_count(sessionmaker) == 2


async def test_the_referral_form_offers_to_add_to_the_open_case(chair, earlier, sessionmaker):
    form = {"kind": "domestic_abuse", "survivor_name": "Nora Smyth", **page_fields(15), "agencies": ["police"]}
    asked = await chair.post("/cases", data=form)
    assert f'name="duplicate_{earlier["id"]}" value="add"' in asked.text
    added = await chair.post("/cases", data={**form, f"duplicate_{earlier['id']}": "add"})
    assert added.status_code == 200 and earlier["reference"] in added.text
    assert await case_count(sessionmaker) == 1
