"""Search for earlier cases: names found whatever their spelling or order, dates of birth despite a
typing slip, references; a reader shown only the cases they may see (of any other match only that
it exists); every search audited; bad searches refused; results paged."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from coordinator import policy, search
from coordinator.lifecycle import retention
from coordinator.models import AuditEntry, SearchQuery, utcnow

REFERRAL = {
    "kind": "domestic_abuse", "checklist_score": 15, "agencies": ["police", "social_work"],
    "people": [{"role": "survivor", "name": "Norah Smith", "born_on": "1990-03-12"},
               {"role": "subject", "name": "Mark Jones"}],
}


@pytest.fixture
async def earlier(client_for, people) -> dict:
    chair = await client_for("chair")
    response = await chair.post("/api/cases", json=REFERRAL)
    assert response.status_code == 201, response.text
    return response.json()


async def found(client, q: str) -> dict:
    response = await client.get("/api/search", params={"q": q})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("q", ["Nora Smyth", "norah smith", "Smith Norah", "Smyth, Nora", "1990-03-21",
                               "12/03/1990", "Nora 1990-03-13"])
async def test_her_case_is_found_despite_spelling_order_and_a_slip_in_her_date_of_birth(client_for, earlier, q):
    body = await found(await client_for("chair"), q)
    assert [r["reference"] for r in body["results"]] == [earlier["reference"]]
    assert body["results"][0]["people"][0]["name"] == "Norah Smith"
    assert body["elsewhere"] is None


async def test_the_reasons_say_how_she_matched(client_for, earlier):
    chair = await client_for("chair")
    assert (await found(chair, "Nora Smyth"))["results"][0]["people"][0]["why"] == "name sounds alike"
    assert (await found(chair, "1990-03-21"))["results"][0]["people"][0]["why"] == "date of birth one slip away"
    by_reference = (await found(chair, earlier["reference"].lower()))["results"][0]
    assert by_reference["why"] == "reference" and by_reference["case_id"] == earlier["id"]


@pytest.mark.parametrize("q", ["Priya Patel", "Nora Jones", "1971-11-30"])
async def test_someone_else_is_not_found(client_for, earlier, q):
    assert (await found(await client_for("chair"), q))["results"] == []


async def test_an_agency_on_the_case_sees_it(client_for, earlier):
    assert [r["case_id"] for r in (await found(await client_for("pc"), "Nora Smyth"))["results"]] == [earlier["id"]]


async def test_an_agency_not_on_the_case_learns_only_that_an_earlier_case_exists(client_for, earlier):
    housing = await client_for("hou")
    response = await housing.get("/api/search", params={"q": "Nora Smyth"})
    body = response.json()
    assert body["results"] == [] and body["total"] == 0
    assert body["elsewhere"] == "A possible earlier case exists: ask the coordinator."
    page = await housing.get("/search", params={"q": "Nora Smyth"})
    assert page.status_code == 200 and "A possible earlier case exists: ask the coordinator." in page.text
    for answer in (response.text, page.text):
        assert earlier["reference"] not in answer and "Norah" not in answer and "Jones" not in answer
    # Guessing her name exactly tells no more either.
    guessed = (await housing.get("/search", params={"q": "Norah Smith"})).text
    assert earlier["reference"] not in guessed and "Jones" not in guessed and "1990-03-12" not in guessed and "12/03/1990" not in guessed


async def test_the_page_shows_the_case_to_whoever_may_see_it(client_for, earlier):
    page = await (await client_for("pc")).get("/search", params={"q": "Smyth Nora"})
    assert earlier["reference"] in page.text and "Norah Smith" in page.text
    assert "A possible earlier case exists" not in page.text


async def test_every_search_is_audited_without_its_words(client_for, earlier, people, sessionmaker):
    await found(await client_for("hou"), "Nora Smyth")
    await found(await client_for("chair"), "Mark Jones")
    async with sessionmaker() as db:
        entries = (await db.execute(select(AuditEntry).where(AuditEntry.action == "search.made")
                                    .order_by(AuditEntry.id))).scalars().all()
        queries = {q.id: q for q in (await db.execute(select(SearchQuery))).scalars()}
    assert [e.actor_id for e in entries] == [people["housing"].id, people["chair"].id]
    assert '"withheld":1' in entries[0].detail and '"shown":[]' in entries[0].detail
    assert f'"shown":[{earlier["id"]}]' in entries[1].detail
    assert [(queries[int(e.subject.split(":")[1])].user_id, queries[int(e.subject.split(":")[1])].text)
            for e in entries] == [(people["housing"].id, "Nora Smyth"), (people["chair"].id, "Mark Jones")]
    assert not any("Smyth" in e.detail or "Jones" in e.detail for e in entries)


async def test_the_search_log_keeps_the_words_only_for_its_period(client_for, earlier, sessionmaker):
    await found(await client_for("chair"), "Nora Smyth")
    async with sessionmaker() as db:
        await retention.apply(db, utcnow() + dt.timedelta(days=11), retention_days=10_000, search_log_days=10)
        await db.commit()
        assert (await db.execute(select(SearchQuery))).scalars().all() == []
        assert (await db.execute(select(AuditEntry).where(AuditEntry.action == "search.made"))).scalars().all()


@pytest.mark.parametrize("q", ["N", " a ", "**", "%%", "*?", "__", "  ", "!!", "Nora\x00Smith"])
async def test_a_search_too_short_or_of_wildcards_only_is_refused(client_for, earlier, q):
    chair = await client_for("chair")
    response = await chair.get("/api/search", params={"q": q})
    assert response.status_code == 400 and response.json()["field"] == "q", response.text
    page = await chair.get("/search", params={"q": q})
    assert page.status_code == 400 and 'aria-invalid="true"' in page.text


async def test_results_are_paged(client_for, earlier, monkeypatch):
    monkeypatch.setattr(search, "PAGE_SIZE", 1)
    chair = await client_for("chair")
    second = await chair.post("/api/cases", json={**REFERRAL, "people": [{"role": "survivor", "name": "Mark Jonas"}],
                                                  "duplicates": [{"case_id": earlier["id"], "same": False}]})
    assert second.status_code == 201, second.text
    first_page = await found(chair, "Mark Jones")
    assert (first_page["page"], first_page["pages"], first_page["total"]) == (1, 2, 2)
    next_page = (await chair.get("/api/search", params={"q": "Mark Jones", "page": 2})).json()
    assert {first_page["results"][0]["case_id"], next_page["results"][0]["case_id"]} == {earlier["id"], second.json()["id"]}
    assert (await chair.get("/api/search", params={"q": "Mark Jones", "page": 0})).status_code == 400


async def test_the_navigation_offers_search_to_those_who_may_search(client_for, people):
    assert 'href="/search"' in (await (await client_for("hou")).get("/")).text
    # Everyone with an account has an agency or coordinates; a person of no agency would not search.
    assert not policy.may_search(policy.Actor(id=1, agency=None, role="member"))
    assert policy.may_search(policy.Actor(id=1, agency=None, role="admin"))


async def test_a_name_changed_on_the_case_is_found_by_its_new_spelling_only(client_for, earlier):
    chair = await client_for("chair")
    edited = await chair.patch(f"/api/cases/{earlier['id']}", json={
        "version": 1, "reason": "her name as she spells it",
        "people": [{"role": "survivor", "name": "Nura Okafor"}, {"role": "subject", "name": "Mark Jones"}]})
    assert edited.status_code == 200, edited.text
    assert [r["case_id"] for r in (await found(chair, "Noura Okafur"))["results"]] == [earlier["id"]]
    assert (await found(chair, "Norah Smith"))["results"] == []
