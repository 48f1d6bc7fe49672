"""Her views and wishes: recorded by whoever holds victim contact, dated and versioned (a
correction keeps the earlier version), first in her case at the conference and in the minutes,
"not yet asked" a gap the chair sees, and shared through the consent gate on every path."""

import datetime as dt
import json

from sqlalchemy import select

from coordinator.accounts import actor_of
from coordinator.models import AuditEntry, RoleAssignment, User, utcnow
from coordinator.policy import Audience
from coordinator.web.live import render
from tests.sharing_steps import grant_consent, row_counts
from tests.web.support import whole_case
from tests.web.test_conference_access import end
from tests.web.test_minutes_files import pdf_pages

# A marker that must never reach an agency her consent does not cover.
HER_WORDS = "I want him to stay away from the school gate; keep my new address from his family"
CORRECTED = "I want contact with the children supervised, never at my home"
NOT_YET_ASKED = "Not yet asked:"


def asked_on(days_ago: int = 1) -> str:
    return (utcnow().date() - dt.timedelta(days=days_ago)).isoformat()


def views(supersedes_id=None, **parts) -> dict:  # noqa: ANN001
    return {"asked_on": asked_on(), "supersedes_id": supersedes_id, "views": HER_WORDS, **parts}


async def hold_victim_contact(sessionmaker, case_id: int, agency: str, by: int, person_id: int | None = None) -> None:
    async with sessionmaker() as session:
        session.add(RoleAssignment(case_id=case_id, responsibility="victim_contact", agency=agency,
                                   person_id=person_id, status="confirmed", assigned_by_id=by))
        await session.commit()


async def record(client, case_id: int, body: dict):  # noqa: ANN001, ANN201
    return await client.put(f"/api/cases/{case_id}/views-and-wishes", json=body,
                            headers={"x-csrftoken": client.cookies["csrftoken"]})


async def test_the_holder_records_her_views_and_a_correction_keeps_the_earlier_version(
        client_for, case, people, sessionmaker):
    await hold_victim_contact(sessionmaker, case["id"], "police", people["chair"].id)
    police = await client_for("pc")
    first = await record(police, case["id"], views(wishes="A refuge place near her work"))
    assert first.status_code == 200, first.text
    current = first.json()["current"]
    assert current["parts"] == {"asked_on": asked_on(), "views": HER_WORDS, "wishes": "A refuge place near her work"}
    assert current["agency"] == "police" and first.json()["not_yet_asked"] is False

    corrected = await record(police, case["id"], views(current["id"], views=CORRECTED) | {"asked_on": asked_on(0)})
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["current"]["parts"] == {"asked_on": asked_on(0), "views": CORRECTED}
    history = (await police.get(f"/api/cases/{case['id']}/views-and-wishes/history")).json()
    assert [v["superseded"] for v in history] == [True, False]
    assert history[0]["parts"]["views"] == HER_WORDS and history[1]["supersedes_id"] == current["id"]

    page = await whole_case(police, case["id"])
    assert CORRECTED in page.text and "Her views, in her words" in page.text and HER_WORDS not in page.text
    assert NOT_YET_ASKED not in page.text
    async with sessionmaker() as session:
        details = [e.detail for e in (await session.execute(
            select(AuditEntry).where(AuditEntry.action == "views_and_wishes.recorded"))).scalars()]
    assert len(details) == 2 and "school gate" not in str(details) and "supervised" not in str(details)


async def test_a_stale_version_is_refused_with_what_is_current(client_for, case, people, sessionmaker):
    await hold_victim_contact(sessionmaker, case["id"], "police", people["chair"].id)
    police = await client_for("pc")
    first = (await record(police, case["id"], views())).json()["current"]
    assert (await record(police, case["id"], views(first["id"], views=CORRECTED))).status_code == 200
    before = await row_counts(sessionmaker)
    stale = await record(police, case["id"], views(first["id"], views="Something else"))
    assert stale.status_code == 409 and stale.json()["field"] == "supersedes_id"
    assert "someone else changed her views and wishes meanwhile" in stale.json()["detail"]
    assert stale.json()["extra"]["current"]["current"]["parts"]["views"] == CORRECTED
    assert await row_counts(sessionmaker) == before


async def test_only_whoever_holds_victim_contact_records_them(client_for, case, people, sessionmaker, make_user):
    police, social_work, chair = await client_for("pc"), await client_for("sw"), await client_for("chair")
    nobody = await record(police, case["id"], views())
    assert nobody.status_code == 409 and "nobody holds victim contact" in nobody.json()["detail"]

    await hold_victim_contact(sessionmaker, case["id"], "police", people["chair"].id, person_id=people["police"].id)
    for client in (social_work, chair):  # another agency; a coordinator does not speak for her either
        refused = await record(client, case["id"], views())
        assert refused.status_code == 403 and "holding victim contact" in refused.json()["detail"], refused.text
    await make_user("pc2", "police")
    colleague = await record(await client_for("pc2"), case["id"], views())
    assert colleague.status_code == 403  # the role names one officer: she told him, not his colleague
    page = (await social_work.get(f"/cases/{case['id']}/views-and-wishes")).text
    assert "Record her views and wishes" not in page and NOT_YET_ASKED in page
    assert (await record(police, case["id"], views())).status_code == 200
    assert "Record a new version" in (await police.get(f"/cases/{case['id']}/views-and-wishes")).text


async def test_bad_input_names_the_field_and_writes_nothing(client_for, case, people, sessionmaker):
    await hold_victim_contact(sessionmaker, case["id"], "police", people["chair"].id)
    police = await client_for("pc")
    before = await row_counts(sessionmaker)
    tomorrow = asked_on(-1)
    for body, field in [({"asked_on": asked_on()}, "views"),
                        (views() | {"views": "   "}, "views"),
                        (views() | {"asked_on": tomorrow}, "asked_on"),
                        (views() | {"asked_on": "last week"}, "asked_on"),
                        (views() | {"wishes": "x" * 4001}, "wishes")]:
        answer = await record(police, case["id"], body)
        assert answer.status_code == 400 and answer.json()["field"] == field, (body, answer.text)
    form = await police.post(f"/cases/{case['id']}/views-and-wishes", data={"asked_on": tomorrow, "views": HER_WORDS})
    assert form.status_code == 400 and "the date she was asked is in the future" in form.text
    assert HER_WORDS in form.text  # what was typed comes back
    assert await row_counts(sessionmaker) == before
    written = await police.post(f"/cases/{case['id']}/views-and-wishes",
                                data={"asked_on": asked_on(), "supersedes_id": "", "views": HER_WORDS})
    assert written.status_code == 200 and HER_WORDS in written.text and "Asked on" in written.text


async def test_her_views_are_gated_on_every_path_and_first_in_her_case(app, client_for, scenario, sessionmaker,
                                                                       registry):
    """Police hold victim contact on case A; her consent covers health; social work may never read her words."""
    case_id, url = scenario.case_a, f"/api/conferences/{scenario.conference_id}"
    chair, police = await client_for("chair"), await client_for("pc")
    social_work, health = await client_for("sw"), await client_for("doc")

    async def live_case(username: str) -> str:
        async with sessionmaker() as session:
            viewer = actor_of(await session.get(User, scenario.users[username]))
            view = await render.conference_view(session, registry, scenario.conference_id,
                                                Audience(viewer.agency, "chair" if username == "chair" else "member"),
                                                [viewer], ("case",))
            await session.commit()
        return render.render_fragment(app.state.live.env, view, "case", oob=False)

    gap = await live_case("chair")
    assert NOT_YET_ASKED in gap and gap.index("Her views and wishes") < gap.index("<h3>Information</h3>")
    assert (await chair.get(f"/api/cases/{case_id}/views-and-wishes")).json()["not_yet_asked"] is True

    await hold_victim_contact(sessionmaker, case_id, "police", scenario.users["chair"])
    assert (await record(police, case_id, views())).status_code == 200
    consents = (await chair.get(f"/cases/{case_id}/consents")).text
    assert 'value="case.views_and_wishes"' in consents  # she consents to it by name
    await grant_consent(chair, case_id, ["case.views_and_wishes"], ["health"])

    for client, shown in ((police, True), (health, True), (social_work, False)):
        texts = [(await client.get(path)).text for path in (
            f"/cases/{case_id}/views-and-wishes", f"/api/cases/{case_id}/views-and-wishes",
            f"/api/cases/{case_id}/views-and-wishes/history", f"/api/cases/{case_id}/items",
            f"/cases/{case_id}/export.html", f"/api/cases/{case_id}/export", url)]
        for text in texts:
            assert (HER_WORDS in text) is shown
    state = (await social_work.get(f"/api/cases/{case_id}/views-and-wishes")).json()
    assert state["current"]["withheld"] and state["current"]["parts"] is None and state["not_yet_asked"] is False
    withheld_page = (await whole_case(social_work, case_id)).text
    assert "Withheld:</strong> her views and wishes, held by Police" in withheld_page and HER_WORDS not in withheld_page

    for username, shown in (("pc", True), ("doc", True), ("sw", False)):
        fragment = await live_case(username)
        assert (HER_WORDS in fragment) is shown and NOT_YET_ASKED not in fragment
        assert fragment.index("Her views and wishes") < fragment.index("<dl class=\"facts\">")
    assert "Withheld: Police holds her views and wishes" in await live_case("sw")

    await end(chair, scenario)
    for client, shown in ((health, True), (social_work, False)):
        minutes = {path: (await client.get(f"/conferences/{scenario.conference_id}/{path}"))
                   for path in ("minutes.md", "minutes.html", "minutes.pdf")}
        pdf = " ".join(" ".join(pdf_pages(minutes.pop("minutes.pdf").content)).split())  # lines rejoined
        for text in [pdf, *(answer.text for answer in minutes.values())]:
            assert (HER_WORDS in text) is shown
            assert "Her views and wishes" in text
        markdown = minutes["minutes.md"].text
        assert markdown.index("### Her views and wishes") < markdown.index("### Information shared")
    withheld = (await social_work.get(f"/conferences/{scenario.conference_id}/minutes.md")).text
    assert "- Her views and wishes (Police): withheld from your agency; ask Police" in withheld

    async with sessionmaker() as session:
        audited = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "information.disclosed", AuditEntry.actor_id == scenario.users["doc"]))).scalars()
        channels = {json.loads(e.detail)["channel"] for e in audited}
    assert channels >= {"page", "api", "export", "conference", "minutes"}
