"""The sharing features through their HTML forms, as a browser without JavaScript would use them."""

from tests.sharing_steps import items_by_id, later, record_item
from tests.web.support import whole_case


async def test_an_agency_records_and_corrects_an_item_through_the_case_page(client_for, case):
    police = await client_for("pc")
    recorded = await police.post(f"/cases/{case['id']}/items", follow_redirects=False, data={
        "category": "police.injuries_observed", "nature": "opinion", "sensitivity": "high",
        "text": "Officers saw fresh bruising on her neck"})
    assert recorded.status_code == 303 and recorded.headers["location"] == f"/cases/{case['id']}/items"
    [item] = (await items_by_id(police, case["id"])).values()
    assert (item["nature"], item["sensitivity"]) == ("opinion", "high")

    corrected = await police.post(f"/cases/{case['id']}/items/{item['id']}/corrections",
                                  data={"text": "Officers saw fresh bruising on her neck and wrists"})
    assert corrected.status_code == 200
    assert "neck and wrists" in corrected.text and "a corrected version" in corrected.text


async def test_the_case_worker_records_and_withdraws_consent_through_the_consent_page(client_for, case):
    chair, health, police = await client_for("chair"), await client_for("doc"), await client_for("pc")
    await record_item(police, case["id"], "police.call_outs", "Call-out on 3 March")
    await record_item(police, case["id"], "police.criminal_record", "Convicted of assault in 2021")
    page = await chair.get(f"/cases/{case['id']}/consents")
    assert 'value="Nora"' in page.text  # the survivor, as named on the case
    granted = await chair.post(f"/cases/{case['id']}/consents", data={
        "purpose": "case conference", "method": "verbal", "given_by": "Nora",
        "categories": ["police.call_outs", "police.criminal_record"], "recipients": ["health"],
        "expires_at": later(days=90)[:10]})
    assert granted.status_code == 200 and "Consent #1: case conference" in granted.text
    health_page = await whole_case(health, case['id'])
    assert "Call-out on 3 March" in health_page.text and "Convicted of assault" in health_page.text

    consent = (await chair.get(f"/api/cases/{case['id']}/consents")).json()[0]
    record_scope = next(s for s in consent["scopes"] if s["category"] == "police.criminal_record")
    partial = await chair.post(f"/cases/{case['id']}/consents/{consent['id']}/withdrawals",
                               data={"scope_ids": [str(record_scope["id"])], "note": "she asked by phone"})
    assert partial.status_code == 200 and "she asked by phone" in partial.text
    health_page = await whole_case(health, case['id'])
    assert "Call-out on 3 March" in health_page.text and "Convicted of assault" not in health_page.text

    nothing_ticked = await chair.post(f"/cases/{case['id']}/consents/{consent['id']}/withdrawals", data={"note": ""})
    assert nothing_ticked.status_code == 400 and "tick the parts" in nothing_ticked.text
    whole = await chair.post(f"/cases/{case['id']}/consents/{consent['id']}/withdrawals", data={"whole": "yes"})
    assert whole.status_code == 200
    assert "Call-out on 3 March" not in (await whole_case(health, case['id'])).text


async def test_an_override_is_requested_approved_and_the_survivor_notice_recorded_through_the_pages(client_for, case):
    police, health, supervisor = await client_for("pc"), await client_for("doc"), await client_for("supervisor")
    await record_item(health, case["id"], "health.injuries", "Fractured wrist treated on 2 March")
    requested = await police.post(f"/cases/{case['id']}/overrides", data={
        "legal_basis": "crime_prevention", "justification": "assault investigation",
        "categories": ["health.injuries"], "recipients": ["police"], "expires_at": later(days=14)[:10]})
    assert requested.status_code == 200 and "Waiting for a supervisor other than you" in requested.text
    assert "Fractured wrist" not in (await whole_case(police, case['id'])).text

    review = await supervisor.get(f"/cases/{case['id']}/overrides")
    assert 'value="approve"' in review.text and "Prevention or detection of crime" in review.text
    approved = await supervisor.post(f"/cases/{case['id']}/overrides/1/decision",
                                     data={"decision": "approve", "note": "proportionate"})
    assert approved.status_code == 200 and "In force" in approved.text and "proportionate" in approved.text
    assert "Fractured wrist" in (await whole_case(police, case['id'])).text

    not_told = await supervisor.post(f"/cases/{case['id']}/overrides/1/survivor-notice",
                                     data={"informed": "no", "reason": "telling her now would alert him"})
    assert "No: telling her now would alert him" in not_told.text
    missing = await supervisor.post(f"/cases/{case['id']}/overrides/1/survivor-notice", data={"informed": "no"})
    assert missing.status_code == 400 and "the reason the survivor was not told is required" in missing.text
    told = await police.post(f"/cases/{case['id']}/overrides/1/survivor-notice", data={"informed": "yes"})
    assert told.status_code == 200 and "Yes, on" in told.text
