"""Consent-gated sharing as the agencies meet it: pages, API and export show each agency exactly
what the gate allows, with the basis, and a placeholder for the rest."""

from sqlalchemy import select

from coordinator.models import AuditEntry, Consent, Override
from tests.sharing_steps import (
    as_if_expired,
    decide,
    grant_consent,
    items_by_id,
    later,
    record_item,
    request_override,
    withdraw,
)
from tests.web.support import whole_case

CALL_OUTS = "Three call-outs to the flat in March, the last one at 2am"
INJURIES = "Bruising to both forearms, photographed at the emergency department"


async def test_an_agency_sees_its_own_items_and_only_a_placeholder_for_others(client_for, case):
    police, health = await client_for("pc"), await client_for("doc")
    item = await record_item(police, case["id"], "police.call_outs", CALL_OUTS)

    own = await whole_case(police, case['id'])
    assert CALL_OUTS in own.text and "Your agency's record" in own.text

    page = await whole_case(health, case['id'])
    assert page.status_code == 200
    assert CALL_OUTS not in page.text
    assert "Withheld:" in page.text and "Call-outs to the address, held by Police" in page.text
    seen = (await items_by_id(health, case["id"]))[item["id"]]
    assert seen["withheld"] and seen["text"] is None and seen["basis"] is None
    assert (seen["category"], seen["agency"]) == ("police.call_outs", "police")
    export = (await health.get(f"/api/cases/{case['id']}/export")).json()
    assert CALL_OUTS not in str(export) and export["items"][0]["withheld"]


async def test_consent_shows_the_item_with_its_basis_on_every_path(client_for, case):
    police, health, chair = await client_for("pc"), await client_for("doc"), await client_for("chair")
    await record_item(police, case["id"], "police.call_outs", CALL_OUTS)
    consent = await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])

    page = await whole_case(health, case['id'])
    assert CALL_OUTS in page.text and f"Shared with consent #{consent['id']}" in page.text
    [item] = (await items_by_id(health, case["id"])).values()
    assert item["text"] == CALL_OUTS and item["basis"] == f"consent:{consent['id']}"
    export_page = await health.get(f"/cases/{case['id']}/export.html")
    assert CALL_OUTS in export_page.text
    social_work = await client_for("sw")  # not in the consent's scope
    assert CALL_OUTS not in (await whole_case(social_work, case['id'])).text


async def test_a_partial_withdrawal_takes_effect_at_the_next_request_on_every_path(client_for, case):
    police, health, chair = await client_for("pc"), await client_for("doc"), await client_for("chair")
    social_work = await client_for("sw")
    await record_item(police, case["id"], "police.call_outs", CALL_OUTS)
    consent = await grant_consent(chair, case["id"], ["police.call_outs"], ["health", "social_work"])
    assert CALL_OUTS in (await whole_case(health, case['id'])).text

    after = await withdraw(chair, case["id"], consent, ("police.call_outs", "health"))
    statuses = {s["recipient"]: s["status"] for s in after["scopes"]}
    assert statuses == {"health": "withdrawn", "social_work": "in_force"}

    assert CALL_OUTS not in (await whole_case(health, case['id'])).text
    assert all(i["withheld"] for i in (await items_by_id(health, case["id"])).values())
    assert CALL_OUTS not in (await health.get(f"/api/cases/{case['id']}/export")).text
    assert CALL_OUTS not in (await health.get(f"/cases/{case['id']}/export.html")).text
    assert CALL_OUTS in (await whole_case(social_work, case['id'])).text  # the rest still stands


async def test_a_whole_withdrawal_ends_every_scope_and_cannot_be_repeated(client_for, case):
    chair = await client_for("chair")
    consent = await grant_consent(chair, case["id"], ["police.call_outs", "health.injuries"], ["social_work"])
    whole = await chair.post(f"/api/cases/{case['id']}/consents/{consent['id']}/withdrawals", json={})
    assert {s["status"] for s in whole.json()["scopes"]} == {"withdrawn"}
    again = await chair.post(f"/api/cases/{case['id']}/consents/{consent['id']}/withdrawals", json={})
    assert again.status_code == 409 and "withdrawn in full already" in again.json()["detail"]


async def test_an_expired_consent_grants_nothing(client_for, case, sessionmaker):
    police, health, chair = await client_for("pc"), await client_for("doc"), await client_for("chair")
    await record_item(police, case["id"], "police.call_outs", CALL_OUTS)
    lapsed = await grant_consent(chair, case["id"], ["police.call_outs"], ["health"],
                                 given_at=later(days=-30), expires_at=later(days=-1))
    assert lapsed["scopes"][0]["status"] == "expired"
    assert CALL_OUTS not in (await whole_case(health, case['id'])).text

    current = await grant_consent(chair, case["id"], ["police.call_outs"], ["health"], expires_at=later(days=30))
    assert CALL_OUTS in (await whole_case(health, case['id'])).text
    await as_if_expired(sessionmaker, Consent, current["id"])
    assert CALL_OUTS not in (await whole_case(health, case['id'])).text


async def test_an_override_grants_nothing_until_a_different_supervisor_approves_it(client_for, case, make_user):
    police, health, supervisor = await client_for("pc"), await client_for("doc"), await client_for("supervisor")
    await record_item(health, case["id"], "health.injuries", INJURIES)
    override = await request_override(police, case["id"], ["health.injuries"], ["police"])
    assert override["status"] == "requested"
    assert INJURIES not in (await whole_case(police, case['id'])).text

    member = await client_for("sw")
    refused = await decide(member, case["id"], override["id"], "approve")
    assert refused.status_code == 403 and "only a supervisor" in refused.json()["detail"]

    approved = await decide(supervisor, case["id"], override["id"], "approve")
    assert approved.status_code == 201 and approved.json()["status"] == "in_force"
    page = await whole_case(police, case['id'])
    assert INJURIES in page.text and f"Shared under override #{override['id']}" in page.text
    [item] = (await items_by_id(police, case["id"])).values()
    assert item["basis"] == f"override:{override['id']}"


async def test_a_supervisor_cannot_approve_their_own_override_and_nothing_is_written(client_for, case, sessionmaker):
    supervisor = await client_for("supervisor")
    override = await request_override(supervisor, case["id"], ["health.injuries"], ["social_work"])
    async with sessionmaker() as session:
        entries_before = len((await session.execute(select(AuditEntry.id))).all())
    response = await decide(supervisor, case["id"], override["id"], "approve")
    assert response.status_code == 403 and "other than the person who requested it" in response.json()["detail"]
    async with sessionmaker() as session:
        stored = await session.get(Override, override["id"])
        assert stored.status == "requested" and stored.decided_by_id is None
        assert len((await session.execute(select(AuditEntry.id))).all()) == entries_before


async def test_refused_and_expired_overrides_grant_nothing(client_for, case, sessionmaker, make_user):
    police, health, supervisor = await client_for("pc"), await client_for("doc"), await client_for("supervisor")
    await record_item(health, case["id"], "health.injuries", INJURIES)
    refused = await request_override(police, case["id"], ["health.injuries"], ["police"])
    assert (await decide(supervisor, case["id"], refused["id"], "refuse")).json()["status"] == "refused"
    assert INJURIES not in (await whole_case(police, case['id'])).text
    again = await decide(supervisor, case["id"], refused["id"], "approve")
    assert again.status_code == 409

    approved = await request_override(police, case["id"], ["health.injuries"], ["police"])
    await decide(supervisor, case["id"], approved["id"], "approve")
    assert INJURIES in (await whole_case(police, case['id'])).text
    await as_if_expired(sessionmaker, Override, approved["id"])
    assert INJURIES not in (await whole_case(police, case['id'])).text
    statuses = {o["id"]: o["status"] for o in (await police.get(f"/api/cases/{case['id']}/overrides")).json()}
    assert statuses == {refused["id"]: "refused", approved["id"]: "expired"}


async def test_a_plugin_restriction_wins_over_consent_and_override_and_says_why(client_for, case):
    police, health = await client_for("pc"), await client_for("doc")
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    secret = "Informant says he keeps a knife in the car"
    await record_item(police, case["id"], "police.intelligence", secret)
    await grant_consent(chair, case["id"], ["police.intelligence"], ["health"])
    override = await request_override(health, case["id"], ["police.intelligence"], ["health"])
    await decide(supervisor, case["id"], override["id"], "approve")

    page = await whole_case(health, case['id'])
    assert secret not in page.text
    assert "Police intelligence is never disclosed outside the police" in page.text
    [item] = (await items_by_id(health, case["id"])).values()
    assert item["withheld"] and "never disclosed" in item["withheld_reason"]
    assert secret in (await whole_case(police, case['id'])).text


async def test_the_disclosure_report_lists_exactly_the_reads_that_happened(client_for, case):
    police, health, chair = await client_for("pc"), await client_for("doc"), await client_for("chair")
    social_work = await client_for("sw")
    shared = await record_item(police, case["id"], "police.call_outs", CALL_OUTS)
    await record_item(police, case["id"], "police.criminal_record", "Two convictions for assault")
    await record_item(health, case["id"], "health.injuries", INJURIES)
    consent = await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])
    await whole_case(police, case['id'])  # own items: not a disclosure
    await social_work.get(f"/api/cases/{case['id']}/items")  # nothing consented to social work
    await whole_case(health, case['id'])
    await health.get(f"/api/cases/{case['id']}/items")
    await health.get(f"/api/cases/{case['id']}/export")

    report = (await chair.get(f"/api/cases/{case['id']}/disclosures")).json()
    assert [entry["item_id"] for entry in report] == [shared["id"]]
    sightings = [(s["viewer_name"], s["viewer_agency"], s["basis"], s["channel"]) for s in report[0]["seen_by"]]
    basis = f"consent:{consent['id']}"
    assert sightings == [("Doc", "health", basis, "page"), ("Doc", "health", basis, "api"),
                         ("Doc", "health", basis, "export")]
    page = await chair.get(f"/cases/{case['id']}/disclosures")
    assert page.status_code == 200 and page.text.count("<td>Doc</td>") == 3 and CALL_OUTS not in page.text


async def test_only_a_supervisor_or_the_case_worker_opens_who_has_seen_it(client_for, case):
    assert (await (await client_for("supervisor")).get(f"/api/cases/{case['id']}/disclosures")).status_code == 200
    lead_agency_member = await client_for("sw")
    assert (await lead_agency_member.get(f"/api/cases/{case['id']}/disclosures")).status_code == 200
    police = await client_for("pc")
    denied = await police.get(f"/api/cases/{case['id']}/disclosures")
    assert denied.status_code == 403 and "case worker" in denied.json()["detail"]
    assert "Who has seen this information" not in (await whole_case(police, case['id'])).text


async def test_a_correction_is_a_new_version_and_the_old_one_stays_in_history(client_for, case):
    police, health, chair = await client_for("pc"), await client_for("doc"), await client_for("chair")
    first = await record_item(police, case["id"], "police.call_outs", "Two call-outs in March")
    response = await police.post(f"/api/cases/{case['id']}/items/{first['id']}/corrections", json={"text": CALL_OUTS})
    assert response.status_code == 201
    second = response.json()
    assert second["supersedes_id"] == first["id"] and second["lineage_id"] == first["id"]

    page = await whole_case(police, case['id'])
    assert CALL_OUTS in page.text and "Two call-outs in March" not in page.text
    history = await police.get(f"/cases/{case['id']}/items/{second['id']}/history")
    assert "Two call-outs in March" in history.text and "Superseded by a correction" in history.text

    await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])
    versions = (await health.get(f"/api/cases/{case['id']}/items/{first['id']}/history")).json()
    assert [v["text"] for v in versions] == ["Two call-outs in March", CALL_OUTS]

    stale = await police.post(f"/api/cases/{case['id']}/items/{first['id']}/corrections", json={"text": "again"})
    assert stale.status_code == 409 and "newest version" in stale.json()["detail"]
    other = await health.post(f"/api/cases/{case['id']}/items/{second['id']}/corrections", json={"text": "mine now"})
    assert other.status_code == 403


async def test_recording_an_item_tells_the_agencies_on_the_case(client_for, case, sessionmaker):
    health = await client_for("doc")
    item = await record_item(health, case["id"], "health.injuries", INJURIES)
    async with sessionmaker() as session:
        events = (await session.execute(
            select(AuditEntry.detail).where(AuditEntry.action == "case.event.information_recorded")
        )).scalars().all()
    assert len(events) == 1 and f'"about":"item:{item["id"]}"' in events[0]


async def test_the_export_holds_the_case_its_tasks_and_only_what_the_gate_allows(client_for, case):
    police, health, chair = await client_for("pc"), await client_for("doc"), await client_for("chair")
    await record_item(police, case["id"], "police.call_outs", CALL_OUTS)
    await record_item(police, case["id"], "police.criminal_record", "Two convictions for assault")
    await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])
    export = (await health.get(f"/api/cases/{case['id']}/export")).json()
    assert export["case"]["reference"] == case["reference"] and export["tasks"]
    assert [(i["category"], i["withheld"]) for i in export["items"]] == [("police.call_outs", False),
                                                                        ("police.criminal_record", True)]
    page = await health.get(f"/cases/{case['id']}/export.html")
    assert CALL_OUTS in page.text and "Two convictions" not in page.text
    assert "Subject&#39;s criminal record, held by Police" in page.text
