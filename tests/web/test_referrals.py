"""Referring the survivor to services (GBV step 4): the service directory (administrators' entries
and an agency plugin's), her consent recorded for what a referral shares, the states with who and
when, the receiving agency deciding from its dashboard without seeing the case, joining the case
on acceptance, notes on accompanying and advocating, and a closed case refusing every change."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from coordinator import cases, hookimpl
from coordinator.app import create_app, sync_plugins_into_database
from coordinator.hookspecs import AgencyIdentity, ServiceEntry
from coordinator.lifecycle import referrals
from coordinator.models import AuditEntry, Consent, Referral, Service, SurveyAdministration
from tests.conftest import registry_with
from tests.sharing_steps import record_item
from tests.web.support import whole_case
from tests.web.test_closure import close


class Shelter:
    """An agency whose plugin contributes two entries to the service directory."""

    services = [ServiceEntry("Safe house", "shelter", "Emergency accommodation for women and children",
                             "0800 000 000", "North district"),
                ServiceEntry("Outreach", "advocacy", "Accompanies survivors to court and to the police")]

    @hookimpl
    def agency_identity(self):
        return AgencyIdentity(key="shelter", name="Women's shelter")

    @hookimpl
    def agency_services(self):
        return list(self.services)


SHELTER = Shelter()


@pytest.fixture(scope="module")
def registry():
    found = registry_with(("housing", "tests.fake_agencies.housing"), ("shelter", "tests.web.test_referrals:SHELTER"))
    for agency in found:  # the directory's entries here are the shelter's and the administrators' alone
        if agency.key != "shelter":
            agency.services = []
    return found


@pytest.fixture
async def admin(make_user, client_for):
    await make_user("root", None, "admin")
    return await client_for("root")


async def add_service(admin, **fields) -> dict:
    response = await admin.post("/api/services", json={"name": "Legal aid clinic", "kind": "legal advice",
                                                       "offers": "Protection orders", "contact": "clinic@example.org",
                                                       "area": "City", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def to_housing(**fields) -> dict:
    return {"to_agency": "housing", "purpose": "emergency accommodation", "method": "written", "given_by": "Nora",
            "categories": ["police.call_outs"], **fields}


def to_service(service_id: int, **fields) -> dict:
    return {"service_id": service_id, "purpose": "a protection order", "method": "verbal", "given_by": "Nora",
            "shares": "her name, phone number and the dates of the incidents", **fields}


async def refer(client, case_id: int, body: dict) -> dict:
    response = await client.post(f"/api/cases/{case_id}/referrals", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def move(client, referral: dict, status: str, **fields):
    return await client.post(f"/api/referrals/{referral['id']}/status",
                             json={"status": status, "version": referral["version"], **fields})


async def counts(sessionmaker) -> tuple[int, int]:
    async with sessionmaker() as db:
        return ((await db.execute(select(func.count()).select_from(Referral))).scalar_one(),
                (await db.execute(select(func.count()).select_from(Consent))).scalar_one())


async def test_the_directory_lists_the_administrators_and_the_plugins_entries(client_for, people, admin, registry,
                                                                             sessionmaker):
    police, chair = await client_for("pc"), await client_for("chair")
    refused = await chair.post("/api/services", json={"name": "X", "kind": "shelter"})
    assert refused.status_code == 403 and "administrator" in refused.json()["detail"]
    blank = await admin.post("/api/services", json={"name": " ", "kind": "shelter"})
    assert blank.status_code == 400 and blank.json()["field"] == "name"
    clinic = await add_service(admin)
    listed = (await police.get("/api/services")).json()
    assert {(s["name"], s["agency"]) for s in listed} == {
        ("Legal aid clinic", None), ("Safe house", "shelter"), ("Outreach", "shelter")}
    assert [s["id"] for s in (await police.get("/api/services")).json()] == [s["id"] for s in listed]  # no copies
    page = await police.get("/directory")
    assert "Safe house" in page.text and "Women&#39;s shelter" in page.text and "Add a service" not in page.text

    plugin_entry = next(s for s in listed if s["agency"] == "shelter")
    fixed = await admin.post(f"/api/services/{plugin_entry['id']}/deactivate")
    assert fixed.status_code == 403 and "plugin" in fixed.json()["detail"]
    out = await admin.post(f"/api/services/{clinic['id']}/deactivate")
    assert out.status_code == 201 and out.json()["active"] is False
    assert (await admin.post(f"/api/services/{clinic['id']}/deactivate")).status_code == 409
    assert "Legal aid clinic" not in {s["name"] for s in (await police.get("/api/services")).json()}
    assert "Legal aid clinic" in (await admin.get("/directory")).text  # the administrator still sees it, as out

    # An entry the plugin no longer offers leaves the directory when the server next starts.
    shelter = registry.get("shelter")
    offered, shelter.services = shelter.services, shelter.services[:1]
    try:
        await sync_plugins_into_database(sessionmaker, registry)
        names = {s["name"] for s in (await police.get("/api/services")).json()}
    finally:
        shelter.services = offered
    assert names == {"Safe house"}
    form = await admin.post("/directory", data={"name": "Counselling centre", "kind": "counselling"})
    assert form.status_code == 200 and "Counselling centre" in form.text
    async with sessionmaker() as db:
        assert (await db.execute(select(func.count()).where(Service.name == "Safe house"))).scalar_one() == 1


async def test_the_server_brings_the_plugins_entries_into_the_directory_as_it_starts(settings, registry):
    app = create_app(settings, registry)
    try:
        async with app.state.sessionmaker() as db:
            assert (await db.execute(select(func.count()).select_from(Service))).scalar_one() == 0
        await app.on_startup[0](app)
        async with app.state.sessionmaker() as db:
            stored = (await db.execute(select(Service.agency, Service.name).order_by(Service.name))).all()
    finally:
        await app.state.engine.dispose()
    assert [tuple(row) for row in stored] == [("shelter", "Outreach"), ("shelter", "Safe house")]


async def test_reading_the_directory_or_the_case_page_writes_and_locks_nothing(client_for, people, case, registry, app):
    """Plugins change only at start-up, so their entries are synced then: a page view that wrote or
    locked would make every case page in every process wait on every other."""
    police = await client_for("pc")
    statements: list[str] = []

    def record(conn, cursor, statement, *_):  # noqa: ANN001
        statements.append(" ".join(statement.split()).upper())

    shelter = registry.get("shelter")
    offered, shelter.services = shelter.services, shelter.services[:1]  # differs from what start-up stored
    event.listen(app.state.engine.sync_engine, "before_cursor_execute", record)
    try:
        pages = [await police.get(url) for url in (
            f"/cases/{case['id']}", f"/cases/{case['id']}/referrals", "/directory", "/api/services")]
    finally:
        event.remove(app.state.engine.sync_engine, "before_cursor_execute", record)
        shelter.services = offered
    assert [page.status_code for page in pages] == [200] * 4
    assert "Outreach" in pages[2].text  # still listed as start-up stored it
    assert statements and all(s.startswith("SELECT") for s in statements), [
        s for s in statements if not s.startswith("SELECT")]
    assert not [s for s in statements if "LOCK" in s or "FOR UPDATE" in s]


async def test_a_referral_to_an_installed_agency_shares_what_she_consented_to_once_accepted(
        client_for, people, case, sessionmaker):
    social, police, housing = await client_for("sw"), await client_for("pc"), await client_for("hou")
    await record_item(police, case["id"], "police.call_outs", "Two call-outs in May")
    refused = await police.post(f"/api/cases/{case['id']}/referrals", json=to_housing())
    assert refused.status_code == 403 and "case worker" in refused.json()["detail"]
    referral = await refer(social, case["id"], to_housing())  # social work leads the case
    assert referral["status"] == "draft" and referral["consent_id"]
    consent = next(c for c in (await social.get(f"/api/cases/{case['id']}/consents")).json()
                   if c["id"] == referral["consent_id"])
    assert [(s["category"], s["recipient"]) for s in consent["scopes"]] == [("police.call_outs", "housing")]

    assert (await housing.get("/api/referrals/incoming")).json() == []  # a draft is not sent
    assert (await housing.get(f"/api/referrals/{referral['id']}")).status_code == 404
    assert (await move(police, referral, "sent")).status_code == 403
    sent = await move(social, referral, "sent")
    assert sent.status_code == 201 and sent.json()["status"] == "sent"

    [incoming] = (await housing.get("/api/referrals/incoming")).json()
    assert incoming["case_reference"] == case["reference"] and incoming["from_agency"] == "social_work"
    assert incoming["purpose"] == "emergency accommodation" and incoming["sent_at"]
    alone = (await housing.get(f"/api/referrals/{referral['id']}")).json()
    assert "Nora" not in str(alone) and "history" not in alone and "notes" not in alone
    dashboard = (await housing.get("/")).text
    assert "Referrals to your agency" in dashboard and case["reference"] in dashboard and "Nora" not in dashboard
    assert (await housing.get(f"/api/cases/{case['id']}")).status_code == 404  # not on the case yet
    assert (await whole_case(housing, case['id'])).status_code == 404

    assert (await move(social, sent.json(), "accepted")).status_code == 403  # housing decides
    stale = await move(housing, referral, "accepted")
    assert stale.status_code == 409 and stale.json()["field"] == "version"
    accepted = await move(housing, sent.json(), "accepted")
    assert accepted.status_code == 201 and accepted.json()["status"] == "accepted", accepted.text
    assert "housing" in [a["key"] for a in (await housing.get(f"/api/cases/{case['id']}")).json()["agencies"]]
    tasks = (await housing.get(f"/api/cases/{case['id']}/tasks")).json()
    assert "Assess the need for emergency accommodation" in [t["title"] for t in tasks if t["agency"] == "housing"]
    items = (await housing.get(f"/api/cases/{case['id']}/items")).json()
    assert [i["text"] for i in items if i["category"] == "police.call_outs"] == ["Two call-outs in May"]

    bare = await move(housing, accepted.json(), "completed")
    assert bare.status_code == 400 and bare.json()["field"] == "outcome"
    done = await move(housing, accepted.json(), "completed", outcome="Moved into a refuge flat")
    assert done.status_code == 201 and done.json()["outcome"] == "Moved into a refuge flat"
    history = done.json()["history"]
    assert [(e["status"], e["by_id"]) for e in history] == [
        ("draft", people["social_work"].id), ("sent", people["social_work"].id), ("accepted", people["housing"].id),
        ("completed", people["housing"].id)]
    assert (await move(housing, done.json(), "accepted")).status_code == 409  # no way back
    async with sessionmaker() as db:
        audited = (await db.execute(select(AuditEntry.action, AuditEntry.detail)
                                    .where(AuditEntry.subject == f"referral:{referral['id']}"))).all()
    assert [a for a, _ in audited] == ["referral.created", "referral.sent", "referral.accepted", "referral.completed"]
    assert not any("refuge" in d or "accommodation" in d for _, d in audited)  # ids and kinds, no free text


async def test_a_declined_referral_gives_its_reason_and_the_agency_stays_off_the_case(client_for, people, case):
    social, housing = await client_for("sw"), await client_for("hou")
    referral = await refer(social, case["id"], to_housing())
    sent = (await move(social, referral, "sent")).json()
    bare = await move(housing, sent, "declined")
    assert bare.status_code == 400 and bare.json()["field"] == "reason"
    declined = await move(housing, sent, "declined", reason="no family rooms free this month")
    assert declined.status_code == 201 and declined.json() == {"id": referral["id"], "status": "declined",
                                                                "version": sent["version"] + 1}
    assert (await housing.get(f"/api/cases/{case['id']}")).status_code == 404
    assert (await housing.get("/api/referrals/incoming")).json() == []
    [shown] = (await social.get(f"/api/cases/{case['id']}/referrals")).json()
    assert shown["status"] == "declined" and shown["decline_reason"] == "no family rooms free this month"
    again = await refer(social, case["id"], to_housing())  # a declined referral is no longer open
    assert again["status"] == "draft"


async def test_a_referral_to_a_directory_service_documents_her_consent_and_keeps_notes(
        client_for, people, case, admin, sessionmaker):
    social, police, chair = await client_for("sw"), await client_for("pc"), await client_for("chair")
    clinic = await add_service(admin)
    before = await counts(sessionmaker)
    for body, field in [(to_service(clinic["id"], to_agency="housing"), "to_agency"),
                        ({**to_service(clinic["id"]), "service_id": None}, "to_agency"),
                        (to_housing(to_agency="nowhere"), "to_agency"),
                        (to_housing(to_agency="police"), "to_agency"),  # on the case already
                        (to_service(99), "service_id"),
                        (to_service(clinic["id"], shares=""), "shares"),
                        (to_housing(categories=[]), "categories"),
                        (to_housing(purpose="  "), "purpose"),
                        (to_housing(method="by telepathy"), "method")]:
        response = await social.post(f"/api/cases/{case['id']}/referrals", json=body)
        assert response.status_code == 400 and response.json()["field"] == field, (field, response.text)
    assert await counts(sessionmaker) == before  # nothing half-written

    referral = await refer(social, case["id"], to_service(clinic["id"]))
    assert referral["service"]["name"] == "Legal aid clinic"
    twice = await social.post(f"/api/cases/{case['id']}/referrals", json=to_service(clinic["id"]))
    assert twice.status_code == 409 and f"referral {referral['id']}" in twice.json()["detail"]
    async with sessionmaker() as db:
        consent = await db.get(Consent, referral["consent_id"])
        assert "dates of the incidents" in consent.purpose and consent.method == "verbal"
    assert all(not c["scopes"] for c in (await chair.get(f"/api/cases/{case['id']}/consents")).json()
               if c["id"] == referral["consent_id"])  # documentation: no agency is granted anything

    sent = (await move(social, referral, "sent")).json()
    assert (await move(police, sent, "accepted")).status_code == 403  # the case worker records its answer
    accepted = await move(social, sent, "accepted")
    assert accepted.status_code == 201 and [a["key"] for a in (await social.get(
        f"/api/cases/{case['id']}")).json()["agencies"]] == ["police", "social_work", "health"]
    note = await social.post(f"/api/referrals/{referral['id']}/notes",
                             json={"kind": "accompanying", "text": "Went with her to the first appointment"})
    assert note.status_code == 201 and "Went with her to the first appointment" in note.json()["notes"]
    assert note.json()["history"][-1]["status"] == "note"
    assert (await police.post(f"/api/referrals/{referral['id']}/notes",
                              json={"kind": "advocating", "text": "x"})).status_code == 403
    empty = await social.post(f"/api/referrals/{referral['id']}/notes", json={"kind": "advocating", "text": " "})
    assert empty.status_code == 400 and empty.json()["field"] == "text"
    done = await move(social, note.json(), "completed", outcome="Protection order granted")
    assert done.status_code == 201 and done.json()["status"] == "completed"
    page = (await whole_case(police, case['id'])).text
    assert "Legal aid clinic" in page and "Protection order granted" in page and "Went with her" in page
    assert "Refer her to a service" not in page  # police is on the case but is not her case worker


async def test_the_page_forms_refer_send_and_accept(client_for, people, case):
    social, housing = await client_for("sw"), await client_for("hou")
    page = (await whole_case(social, case['id'])).text
    assert "Refer her to a service" in page and 'value="agency:housing"' in page and "Safe house" in page
    made = await social.post(f"/cases/{case['id']}/referrals", data={
        "to": "agency:housing", "purpose": "a family flat", "method": "written", "given_by": "Nora",
        "categories": ["police.call_outs"]})
    assert made.status_code == 200 and "a family flat" in made.text and "Send the referral" in made.text
    bad = await social.post(f"/cases/{case['id']}/referrals", data={"to": "service:x", "purpose": "p"})
    assert bad.status_code == 400
    [referral] = (await social.get(f"/api/cases/{case['id']}/referrals")).json()
    sent = await social.post(f"/referrals/{referral['id']}/status", data={"status": "sent", "version": "1"})
    assert sent.status_code == 200 and "Sent" in sent.text
    dashboard = (await housing.get("/")).text
    assert "a family flat" in dashboard and "Accept (your agency joins the case)" in dashboard
    accepted = await housing.post(f"/referrals/{referral['id']}/status", data={"status": "accepted", "version": "2"})
    assert accepted.status_code == 200 and f"Case {case['reference']}" in accepted.text  # on the case now


async def test_a_closed_case_refuses_every_referral_change(client_for, people, case):
    social, chair, supervisor, housing = (await client_for("sw"), await client_for("chair"),
                                          await client_for("supervisor"), await client_for("hou"))
    referral = await refer(social, case["id"], to_housing())
    sent = (await move(social, referral, "sent")).json()
    await close(chair, supervisor, case["id"])
    for response in (await move(housing, sent, "accepted"), await move(social, referral, "sent"),
                     await social.post(f"/api/referrals/{referral['id']}/notes", json={"kind": "other", "text": "x"}),
                     await social.post(f"/referrals/{referral['id']}/status", data={"status": "accepted",
                                                                                     "version": "2"})):
        assert response.status_code == 409 and "this case is closed" in response.text
    assert (await housing.get("/api/referrals/incoming")).json() == []  # nothing left to decide
    page = (await whole_case(social, case['id'])).text
    assert "Send the referral" not in page and "Refer her to a service" not in page


async def test_the_demo_holds_a_referral_in_each_state_and_a_closed_case_with_its_feedback(
        people, case, make_user, registry, sessionmaker):
    receiving = registry.keys[1]
    users = {"admin": await make_user("admin", None, "admin"), "chair": people["chair"],
             "supervisor": people["supervisor"], f"{receiving}.rep": await make_user(f"{receiving}.rep", receiving)}
    async with sessionmaker() as db:
        lines = await referrals.load_referrals_and_feedback(db, registry, users, await cases.load_case(db, case["id"]))
        await db.commit()
    async with sessionmaker() as db:
        states = set((await db.execute(select(Referral.status))).scalars())
        [given] = (await db.execute(select(SurveyAdministration))).scalars().all()
        closed = await cases.load_case(db, given.case_id)
    assert states == set(referrals.STATUSES) and len(lines) == 2
    assert closed.closed_at is not None and closed.id != case["id"]
