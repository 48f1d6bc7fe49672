"""Mandatory reporting recorded: the referral form says who explained the duty to her and when;
each report made under a duty (to whom, when, under which duty) is an audited record on the case,
made by her case worker or an agency on the case, on the page and through the API."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from coordinator.models import AuditEntry
from tests.referral_form_steps import form
from tests.web.support import whole_case

TODAY = dt.date.today().isoformat()
REPORT = {"to_whom": "Children's social care, front door", "made_on": TODAY, "duty": "Children Act 1989, s.47"}


async def test_the_duty_explained_at_intake_shows_on_the_case(client_for, people):
    chair = await client_for("chair")
    case = (await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "agencies": ["police"], "referring_agency": "police",
        "people": [{"role": "survivor", "name": "Nora"}], "form": form(duty_explained_by="PC Rowe")})).json()
    assert (case["duty_explained_by"], case["duty_explained_on"]) == ("PC Rowe", TODAY)
    page = (await whole_case(chair, case["id"])).text
    assert f"The duty to report was explained to her by PC Rowe on {TODAY}" in page


async def test_a_report_is_recorded_audited_and_listed(client_for, case, people, sessionmaker):
    police = await client_for("pc")
    made = await police.post(f"/api/cases/{case['id']}/mandatory-reports", json=REPORT)
    assert made.status_code == 201, made.text
    listed = (await (await client_for("doc")).get(f"/api/cases/{case['id']}/mandatory-reports")).json()
    assert [(r["to_whom"], r["made_on"], r["duty"], r["recorded_by_id"]) for r in listed] == [
        (REPORT["to_whom"], TODAY, REPORT["duty"], people["police"].id)]
    async with sessionmaker() as db:
        entry = (await db.execute(select(AuditEntry).where(AuditEntry.action == "mandatory_report.recorded"))).scalar_one()
    assert (entry.case_id, entry.actor_id, entry.subject) == (case["id"], people["police"].id,
                                                               f"mandatory_report:{made.json()['id']}")
    assert "Children" not in entry.detail and json.loads(entry.detail)["made_on"] == TODAY
    page = (await whole_case(police, case["id"])).text
    assert "Reported to <strong>Children&#39;s social care, front door</strong>" in page and "s.47" in page


async def test_only_her_case_worker_or_an_agency_on_the_case_records_one(client_for, case, people):
    housing = await client_for("hou")  # not on the case
    refused = await housing.post(f"/api/cases/{case['id']}/mandatory-reports", json=REPORT)
    assert refused.status_code == 404
    chair = await client_for("chair")
    assert (await chair.post(f"/api/cases/{case['id']}/mandatory-reports", json=REPORT)).status_code == 201
    assert 'action="/cases/{}/mandatory-reports"'.format(case["id"]) in (await whole_case(chair, case["id"])).text


async def test_a_bad_report_is_refused_naming_the_field_and_nothing_is_kept(client_for, case):
    police = await client_for("pc")
    url = f"/api/cases/{case['id']}/mandatory-reports"
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    for body, field in (({**REPORT, "to_whom": "  "}, "to_whom"), ({**REPORT, "made_on": tomorrow}, "made_on"),
                        ({**REPORT, "made_on": "2001-01-01"}, "made_on"), ({**REPORT, "duty": ""}, "duty")):
        answer = await police.post(url, json=body)
        assert answer.status_code == 400 and answer.json()["field"] == field, answer.text
    await police.get(f"/cases/{case['id']}")
    page = await police.post(f"/cases/{case['id']}/mandatory-reports", data={**REPORT, "duty": ""},
                             headers={"x-csrftoken": police.cookies["csrftoken"]})
    assert page.status_code == 400 and 'id="duty-error"' in page.text
    assert (await police.get(url)).json() == []
