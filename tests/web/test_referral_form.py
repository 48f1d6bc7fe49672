"""The referral form as practitioners know it: intake names every field still missing (the API's
400 lists them; the page shows each beside its field), the checklist score is counted from the 24
answers (never typed), and what the form says of her is shared through the consent gate."""

from __future__ import annotations

from sqlalchemy import select

from coordinator.lifecycle.referral_form import CHECKLIST
from coordinator.models import Case
from tests.referral_form_steps import SAFE_NUMBER, answers, form
from tests.sharing_steps import grant_consent


def referral(**more) -> dict:
    return {"kind": "domestic_abuse", "agencies": ["police", "social_work"], "referring_agency": "police",
            "people": [{"role": "survivor", "name": "Nora"}, {"role": "subject", "name": "Mark"},
                       {"role": "child", "name": "Ella"}], "form": form(), **more}


async def test_intake_names_every_missing_field_and_creates_nothing(client_for, people, sessionmaker):
    chair = await client_for("chair")
    incomplete = form(aware="no", safe_number=" ", fears="", checklist=answers(15)[:20], duty_explained_on=None)
    del incomplete["message_ok"]
    response = await chair.post("/api/cases", json=referral(form=incomplete, referring_agency=None))
    assert response.status_code == 400, response.text
    missing = response.json()["extra"]["missing"]
    assert list(missing) == ["referring_agency", "not_aware_reason", "safe_number", "message_ok", "fears",
                             "duty_explained_on", "checklist[20]", "checklist[21]", "checklist[22]", "checklist[23]"]
    assert "give a number on which it is safe to contact her" in response.json()["detail"]
    async with sessionmaker() as db:
        assert (await db.execute(select(Case))).first() is None


async def test_the_page_shows_each_missing_field_beside_it(client_for, people):
    chair = await client_for("chair")
    await chair.get("/cases/new")
    page = await chair.post("/cases", data={"kind": "domestic_abuse", "survivor_name": "Nora", "referring_agency": "police",
                                            "aware": "yes", "checklist_3": "yes"},
                            headers={"x-csrftoken": chair.cookies["csrftoken"]})
    assert page.status_code == 400, page.text
    assert '<small class="field-error" id="safe_times-error" role="alert">give the times when it is safe' in page.text
    assert 'id="checklist[0]-error"' in page.text and 'id="checklist[3]-error"' not in page.text
    assert 'id="aware-error"' not in page.text and 'id="referring_agency-error"' not in page.text


async def test_the_score_is_counted_from_the_answers_never_typed(client_for, people, sessionmaker):
    chair = await client_for("chair")
    typed = await chair.post("/api/cases", json=referral(checklist_score=24))
    assert typed.status_code == 400 and typed.json()["field"] == "checklist_score"
    created = await chair.post("/api/cases", json=referral())
    assert created.status_code == 201, created.text
    assert (created.json()["checklist_score"], created.json()["risk_level"]) == (15, "high")
    low = await chair.post("/api/cases", json=referral(form=form(checklist=answers(13)),
                                                       people=[{"role": "survivor", "name": "Ann Example"}]))
    assert low.status_code == 400 and "meets no criterion" in low.json()["detail"]


async def test_the_form_is_shared_by_her_consent_like_any_item(client_for, people):
    chair, police, social_work = await client_for("chair"), await client_for("pc"), await client_for("sw")
    case = (await chair.post("/api/cases", json=referral())).json()
    held = (await police.get(f"/api/cases/{case['id']}/items")).json()
    assert {i["category"] for i in held} == {"case.referral_contact", "case.referral_risk", "case.referral_children",
                                             "case.referral_perpetrator"}
    contact = next(i for i in held if i["category"] == "case.referral_contact")
    assert f"Safe number: {SAFE_NUMBER}" in contact["text"] and "Interpreter needed: Yes" in contact["text"]
    risk = next(i for i in held if i["category"] == "case.referral_risk")
    assert "15 of 24 answered yes" in risk["text"] and f"24. {CHECKLIST[23]} No" in risk["text"]

    def shown(items: list[dict]) -> str:
        return " ".join(i.get("text") or "" for i in items)
    assert SAFE_NUMBER not in shown((await social_work.get(f"/api/cases/{case['id']}/items")).json())
    await grant_consent(chair, case["id"], ["case.referral_contact"], ["social_work"])
    seen = shown((await social_work.get(f"/api/cases/{case['id']}/items")).json())
    assert SAFE_NUMBER in seen and "Mark Hill" not in seen
