"""Bad input to the sharing features: a clear 4xx naming the field, and nothing written."""

import pytest

from tests.sharing_steps import grant_consent, later, record_item, request_override, row_counts

CONSENT = {"purpose": "case conference", "method": "written", "given_by": "Nora",
           "categories": ["police.call_outs"], "recipients": ["health"]}
OVERRIDE = {"legal_basis": "child_protection", "justification": "the children were left alone overnight",
            "categories": ["health.injuries"], "recipients": ["police"]}


@pytest.mark.parametrize(("change", "status", "field", "message"), [
    ({"categories": ["police.shoe_size"]}, 400, "categories", "no information category 'police.shoe_size'"),
    ({"categories": []}, 400, "categories", "at least one category"),
    ({"recipients": ["fire_brigade"]}, 400, "recipients", "no agency 'fire_brigade' is installed"),
    ({"recipients": ["police"]}, 400, "recipients", "always sees its own information"),
    ({"method": "telepathy"}, 400, "method", "written or verbal"),
    ({"purpose": "  "}, 400, "purpose", "purpose of sharing is required"),
    ({"given_at": "2026-01-01T10:00:00"}, 400, "given_at", "time zone"),
    ({"given_at": later(days=2)}, 400, "given_at", "before it is given"),
    ({"given_at": later(days=-2), "expires_at": later(days=-3)}, 400, "expires_at", "after consent was given"),
])
async def test_bad_consent_is_refused_with_the_field_and_nothing_written(client_for, case, sessionmaker,
                                                                         change, status, field, message):
    chair = await client_for("chair")
    before = await row_counts(sessionmaker)
    response = await chair.post(f"/api/cases/{case['id']}/consents", json={**CONSENT, **change})
    assert response.status_code == status, response.text
    assert response.json()["field"] == field and message in response.json()["detail"]
    assert await row_counts(sessionmaker) == before


@pytest.mark.parametrize(("change", "status", "field", "message"), [
    ({"legal_basis": ""}, 400, "legal_basis", "name the legal basis"),
    ({"legal_basis": "because I said so"}, 400, "legal_basis", "name the legal basis"),
    ({"justification": ""}, 400, "justification", "justification is required"),
    ({"expires_at": later(days=-1)}, 400, "expires_at", "expiry in the future"),
    ({"categories": ["health.shoe_size"]}, 400, "categories", "no information category"),
    ({"recipients": ["nobody"]}, 400, "recipients", "no agency 'nobody'"),
])
async def test_bad_override_request_is_refused_and_nothing_written(client_for, case, sessionmaker,
                                                                   change, status, field, message):
    police = await client_for("pc")
    before = await row_counts(sessionmaker)
    response = await police.post(f"/api/cases/{case['id']}/overrides",
                                 json={**OVERRIDE, "expires_at": later(days=3), **change})
    assert response.status_code == status, response.text
    assert response.json()["field"] == field and message in response.json()["detail"]
    assert await row_counts(sessionmaker) == before


async def test_an_override_without_a_basis_field_at_all_is_a_400(client_for, case, sessionmaker):
    police = await client_for("pc")
    before = await row_counts(sessionmaker)
    body = {k: v for k, v in OVERRIDE.items() if k != "legal_basis"} | {"expires_at": later(days=3)}
    response = await police.post(f"/api/cases/{case['id']}/overrides", json=body)
    assert response.status_code == 400 and "legal_basis" in response.text
    assert await row_counts(sessionmaker) == before


async def test_an_approval_by_the_requester_is_refused_and_nothing_written(client_for, case, sessionmaker):
    supervisor = await client_for("supervisor")
    override = await request_override(supervisor, case["id"], ["police.call_outs"], ["health"])
    before = await row_counts(sessionmaker)
    response = await supervisor.post(f"/api/cases/{case['id']}/overrides/{override['id']}/decision",
                                     json={"decision": "approve"})
    assert response.status_code == 403 and "other than the person who requested it" in response.json()["detail"]
    assert await row_counts(sessionmaker) == before


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"category": "health.injuries", "nature": "fact", "text": "x"}, "category", "records only its own categories"),
    ({"category": "police.shoe_size", "nature": "fact", "text": "x"}, "category", "no information category"),
    ({"category": "police.call_outs", "nature": "rumour", "text": "x"}, "nature", "fact or a professional opinion"),
    ({"category": "police.call_outs", "nature": "fact", "text": "   "}, "text", "the text is empty"),
    ({"category": "police.criminal_record", "nature": "fact", "text": "x", "sensitivity": "normal"}, "sensitivity",
     "never lower it"),
    ({"category": "police.call_outs", "nature": "fact", "text": "x", "sensitivity": "secret"}, "sensitivity",
     "normal, high"),
])
async def test_a_bad_item_is_refused_and_nothing_written(client_for, case, sessionmaker, body, field, message):
    police = await client_for("pc")
    before = await row_counts(sessionmaker)
    response = await police.post(f"/api/cases/{case['id']}/items", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field and message in response.json()["detail"]
    assert await row_counts(sessionmaker) == before


async def test_an_agency_outside_the_case_can_neither_record_nor_read(client_for, case, sessionmaker):
    housing = await client_for("hou")
    before = await row_counts(sessionmaker)
    response = await housing.post(f"/api/cases/{case['id']}/items",
                                  json={"category": "housing.tenancy", "nature": "fact", "text": "arrears"})
    assert response.status_code == 404
    assert (await housing.get(f"/api/cases/{case['id']}/items")).status_code == 404
    assert (await housing.get(f"/api/cases/{case['id']}/export")).status_code == 404
    assert await row_counts(sessionmaker) == before


async def test_only_the_case_worker_records_or_withdraws_consent(client_for, case, sessionmaker):
    police, chair = await client_for("pc"), await client_for("chair")
    before = await row_counts(sessionmaker)
    response = await police.post(f"/api/cases/{case['id']}/consents", json=CONSENT)
    assert response.status_code == 403 and "case worker" in response.json()["detail"]
    assert await row_counts(sessionmaker) == before
    consent = await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])
    denied = await police.post(f"/api/cases/{case['id']}/consents/{consent['id']}/withdrawals", json={})
    assert denied.status_code == 403


async def test_withdrawing_a_scope_that_is_not_in_force_names_it(client_for, case, sessionmaker):
    chair = await client_for("chair")
    consent = await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])
    before = await row_counts(sessionmaker)
    response = await chair.post(f"/api/cases/{case['id']}/consents/{consent['id']}/withdrawals",
                                json={"scope_ids": [consent["scopes"][0]["id"] + 1000]})
    assert response.status_code == 400 and response.json()["field"] == "scope_ids"
    assert await row_counts(sessionmaker) == before


async def test_a_bad_consent_form_comes_back_with_the_message_and_what_was_typed(client_for, case, sessionmaker):
    chair = await client_for("chair")
    before = await row_counts(sessionmaker)
    response = await chair.post(f"/cases/{case['id']}/consents", data={
        "purpose": "referral to housing", "method": "verbal", "given_by": "Nora",
        "categories": ["police.call_outs"], "recipients": ["fire_brigade"]})
    assert response.status_code == 400
    assert "no agency &#39;fire_brigade&#39; is installed" in response.text
    assert 'value="referral to housing"' in response.text
    assert await row_counts(sessionmaker) == before


async def test_an_override_form_without_a_basis_comes_back_with_the_message(client_for, case, sessionmaker):
    police = await client_for("pc")
    before = await row_counts(sessionmaker)
    response = await police.post(f"/cases/{case['id']}/overrides", data={
        "legal_basis": "", "justification": "urgent", "categories": ["health.injuries"], "recipients": ["police"],
        "expires_at": later(days=3)[:10]})
    assert response.status_code == 400 and "name the legal basis" in response.text
    assert await row_counts(sessionmaker) == before


async def test_a_bad_item_form_comes_back_with_the_message(client_for, case, sessionmaker):
    police = await client_for("pc")
    await record_item(police, case["id"], "police.call_outs", "Recorded before")
    before = await row_counts(sessionmaker)
    response = await police.post(f"/cases/{case['id']}/items", data={"category": "police.call_outs", "nature": "fact",
                                                                     "text": ""})
    assert response.status_code == 400 and "the text is empty" in response.text
    assert "Recorded before" in response.text  # the page is the information section again
    after = await row_counts(sessionmaker)
    # Showing the page again is a view of the police's own items: nothing else is written.
    assert after == before
