"""The safety plan: written by the agency holding safety planning (or a coordinator for it),
versioned, with a review-by date, and shared through the consent gate on every path."""

import datetime as dt
import json

from sqlalchemy import select

from coordinator.models import AuditEntry, RoleAssignment, utcnow
from tests.conference_scenario import build_conference
from tests.sharing_steps import grant_consent, row_counts
from tests.web.support import whole_case

SAFE_PLACE = "Her sister at Mill Road; the refuge number is saved under Dentist"
ESCAPE = "Back door to the garden, car keys by the door"


def review_on(days: int = 30) -> str:
    return (utcnow().date() + dt.timedelta(days=days)).isoformat()


async def hold_safety_planning(sessionmaker, case_id: int, agency: str, by: int, status: str = "confirmed") -> None:
    async with sessionmaker() as session:
        session.add(RoleAssignment(case_id=case_id, responsibility="safety_planning", agency=agency, status=status,
                                   assigned_by_id=by))
        await session.commit()


def plan(supersedes_id=None, **sections) -> dict:  # noqa: ANN001
    return {"review_on": review_on(), "supersedes_id": supersedes_id,
            **({"safe_places": SAFE_PLACE, "escape_routes": ESCAPE} if not sections else sections)}


async def write(client, case_id: int, body: dict):  # noqa: ANN001, ANN201
    return await client.put(f"/api/cases/{case_id}/safety-plan", json=body,
                            headers={"x-csrftoken": client.cookies["csrftoken"]})


async def test_the_holder_writes_the_plan_and_a_new_version_supersedes_it(client_for, case, people, sessionmaker):
    await hold_safety_planning(sessionmaker, case["id"], "social_work", people["chair"].id)
    social_work = await client_for("sw")
    first = await write(social_work, case["id"], plan())
    assert first.status_code == 200, first.text
    current = first.json()["current"]
    assert current["sections"] == {"safe_places": SAFE_PLACE, "escape_routes": ESCAPE}
    assert current["agency"] == "social_work" and current["review_on"] == review_on()

    second = await write(social_work, case["id"], plan(current["id"], safe_places="The refuge in Dunmore"))
    assert second.status_code == 200, second.text
    assert second.json()["current"]["sections"] == {"safe_places": "The refuge in Dunmore"}
    history = (await social_work.get(f"/api/cases/{case['id']}/safety-plan/history")).json()
    assert [v["superseded"] for v in history] == [True, False]
    assert history[1]["supersedes_id"] == current["id"]

    page = await whole_case(social_work, case['id'])
    assert "The refuge in Dunmore" in page.text and "Safe places" in page.text and SAFE_PLACE not in page.text
    async with sessionmaker() as session:
        details = [e.detail for e in (await session.execute(
            select(AuditEntry).where(AuditEntry.action == "safety_plan.written"))).scalars()]
    assert len(details) == 2 and "Dunmore" not in str(details) and "Mill Road" not in str(details)


async def test_a_stale_version_is_refused_with_what_is_current(client_for, case, people, sessionmaker):
    await hold_safety_planning(sessionmaker, case["id"], "social_work", people["chair"].id)
    social_work, chair = await client_for("sw"), await client_for("chair")
    first = (await write(social_work, case["id"], plan())).json()["current"]
    assert (await write(chair, case["id"], plan(first["id"], support="Weekly IDVA calls"))).status_code == 200
    before = await row_counts(sessionmaker)

    stale = await write(social_work, case["id"], plan(first["id"], support="Counselling"))
    assert stale.status_code == 409 and stale.json()["field"] == "supersedes_id"
    assert "someone else changed the safety plan" in stale.json()["detail"]
    assert stale.json()["extra"]["current"]["current"]["sections"] == {"support": "Weekly IDVA calls"}
    again_first = await write(social_work, case["id"], plan(None, support="Counselling"))
    assert again_first.status_code == 409
    assert await row_counts(sessionmaker) == before


async def test_only_the_holder_or_a_coordinator_writes_and_the_coordinator_writes_for_the_holder(
        client_for, case, people, sessionmaker):
    police, chair = await client_for("pc"), await client_for("chair")
    nobody = await write(chair, case["id"], plan())
    assert nobody.status_code == 409 and "assign it in the role map first" in nobody.json()["detail"]
    await hold_safety_planning(sessionmaker, case["id"], "health", people["chair"].id, status="proposed")
    assert (await write(chair, case["id"], plan())).status_code == 409  # proposed is not held yet

    await hold_safety_planning(sessionmaker, case["id"], "police", people["chair"].id)
    health = await client_for("doc")
    refused = await write(health, case["id"], plan())
    assert refused.status_code == 403 and "Police" in refused.json()["detail"]
    written = await write(chair, case["id"], plan())  # a coordinator of social work, for police
    assert written.status_code == 200 and written.json()["current"]["agency"] == "police"
    assert written.json()["holder"] == "police"
    assert (await police.get(f"/api/cases/{case['id']}/safety-plan")).json()["current"]["sections"]["safe_places"] \
        == SAFE_PLACE


async def test_bad_input_names_the_field_and_writes_nothing(client_for, case, people, sessionmaker):
    await hold_safety_planning(sessionmaker, case["id"], "social_work", people["chair"].id)
    social_work = await client_for("sw")
    before = await row_counts(sessionmaker)
    cases = [({"review_on": review_on()}, "safe_places"),
             (plan() | {"review_on": review_on(-1)}, "review_on"),
             (plan() | {"target_strategies": "Watch the target's route"}, "target_strategies"),
             (plan() | {"review_on": "soon"}, "review_on"),
             (plan() | {"safe_places": "x" * 4001}, "safe_places")]
    for body, field in cases:
        answer = await write(social_work, case["id"], body)
        assert answer.status_code == 400 and answer.json()["field"] == field, (body, answer.text)
    form = await social_work.post(f"/cases/{case['id']}/safety-plan", data={"review_on": review_on(-2),
                                                                           "safe_places": SAFE_PLACE})
    assert form.status_code == 400 and "the review-by date is in the past" in form.text
    assert SAFE_PLACE in form.text  # what was typed comes back
    assert await row_counts(sessionmaker) == before


async def test_the_page_form_writes_the_plan(client_for, case, people, sessionmaker):
    await hold_safety_planning(sessionmaker, case["id"], "social_work", people["chair"].id)
    social_work = await client_for("sw")
    answer = await social_work.post(f"/cases/{case['id']}/safety-plan", data={
        "review_on": review_on(), "supersedes_id": "", "digital_safety": "New phone, location sharing off"})
    assert answer.status_code == 200 and "New phone, location sharing off" in answer.text  # back on the case
    assert "Digital safety" in answer.text and f"Review by {review_on()}" in answer.text


async def test_the_plan_is_withheld_without_a_basis_on_every_path(client_for, case, people, sessionmaker):
    await hold_safety_planning(sessionmaker, case["id"], "social_work", people["chair"].id)
    social_work, police, health = await client_for("sw"), await client_for("pc"), await client_for("doc")
    await write(social_work, case["id"], plan())
    consent = await grant_consent(social_work, case["id"], ["case.safety_plan"], ["police"])

    for client, shown in ((police, True), (health, False)):
        texts = [(await client.get(url)).text for url in (
            f"/cases/{case['id']}/safety-plan", f"/api/cases/{case['id']}/safety-plan",
            f"/api/cases/{case['id']}/safety-plan/history", f"/api/cases/{case['id']}/items",
            f"/cases/{case['id']}/export.html", f"/api/cases/{case['id']}/export")]
        for text in texts:
            assert (SAFE_PLACE in text) is shown and (ESCAPE in text) is shown
    state = (await health.get(f"/api/cases/{case['id']}/safety-plan")).json()["current"]
    assert state["withheld"] and state["sections"] is None and state["agency"] == "social_work"
    page = (await whole_case(health, case['id'])).text
    assert "Withheld:</strong> the safety plan, held by Social work" in page
    shown = (await whole_case(police, case['id'])).text
    assert f"Shared with consent #{consent['id']}" in shown and "Escape routes" in shown
    async with sessionmaker() as session:
        audited = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "information.disclosed", AuditEntry.actor_id == people["police"].id))).scalars().all()
    assert {json.loads(e.detail)["channel"] for e in audited} >= {"page", "api", "export"}


async def test_the_consent_form_offers_the_core_categories(client_for, case):
    page = await (await client_for("chair")).get(f"/cases/{case['id']}/consents")
    assert 'value="case.safety_plan"' in page.text and 'value="case.follow_up"' in page.text


async def test_the_plan_is_withheld_in_the_conference_and_its_minutes(client_for, sessionmaker, registry):
    scenario = await build_conference(sessionmaker, registry)
    await hold_safety_planning(sessionmaker, scenario.case_a, "police", scenario.users["chair"])  # the current case
    police, social_work = await client_for("pc"), await client_for("sw")
    assert (await write(police, scenario.case_a, plan())).status_code == 200
    url = f"/api/conferences/{scenario.conference_id}"
    police_view = (await police.get(url)).text
    social_work_view = (await social_work.get(url)).text
    assert SAFE_PLACE in police_view and SAFE_PLACE not in social_work_view and "case.safety_plan" in social_work_view
    live = (await police.get(f"/conferences/{scenario.conference_id}")).text
    assert "Loading" in live or "Safe places" in live  # the items come by websocket, through the same partial

    chair = await client_for("chair")
    state = (await chair.get(url)).json()["conference"]
    assert (await chair.post(f"{url}/end", json={"version": state["version"]})).status_code == 200
    for path in ("minutes.md", "minutes.html"):
        police_minutes = (await police.get(f"/conferences/{scenario.conference_id}/{path}")).text
        social_work_minutes = (await social_work.get(f"/conferences/{scenario.conference_id}/{path}")).text
        assert "Safe places" in police_minutes and SAFE_PLACE in police_minutes
        assert SAFE_PLACE not in social_work_minutes and "Mill Road" not in social_work_minutes
        assert "Safety plan (Police): withheld" in social_work_minutes
