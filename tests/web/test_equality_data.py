"""Her equality data: asked at referral (each question with "prefer not to say"), kept in a table
of its own, and read only to count in the figures: no read path of a case shows it."""

from __future__ import annotations

from sqlalchemy import select

from coordinator import equality
from coordinator.equality import EqualityIn
from coordinator.models import Case, EqualityAnswers
from tests.conference_scenario import build_conference
from tests.referral_form_steps import form
from tests.web.support import whole_case

MARKER = "Quillonese heritage"  # what she said of "another ethnic group": unlike anything else on the case
ANSWERS = {"ethnicity": "other", "ethnicity_detail": MARKER, "disability": "yes", "sexual_orientation": "bisexual",
           "gender": "trans", "age_16_17": "prefer_not_to_say"}
# What a read path would show were the answers to leak: the words, the codes and the questions.
SIGNS = (MARKER, "Bisexual", "prefer_not_to_say", "Prefer not to say", "Another ethnic group", "sexual_orientation",
         "Sexual orientation", "ethnicity")


def referral(**more) -> dict:
    return {"kind": "domestic_abuse", "agencies": ["police"], "referring_agency": "police",
            "people": [{"role": "survivor", "name": "Nora"}], "form": form(), **more}


async def test_answers_are_kept_apart_and_each_may_be_prefer_not_to_say(client_for, people, sessionmaker):
    chair = await client_for("chair")
    created = await chair.post("/api/cases", json=referral(equality=ANSWERS))
    assert created.status_code == 201, created.text
    declined = {name: equality.PREFER_NOT for name in equality.QUESTIONS}
    assert (await chair.post("/api/cases", json=referral(
        equality=declined, people=[{"role": "survivor", "name": "Ann Other"}]))).status_code == 201
    unknown = await chair.post("/api/cases", json=referral(
        equality={**declined, "gender": "unknown"}, people=[{"role": "survivor", "name": "Bea Third"}]))
    assert unknown.status_code == 400 and unknown.json()["field"] == "equality.gender", unknown.text
    async with sessionmaker() as db:
        rows = (await db.execute(select(EqualityAnswers).order_by(EqualityAnswers.id))).scalars().all()
        summaries = " ".join((await db.execute(select(Case.summary))).scalars())
    assert [(r.case_id, r.ethnicity_detail, r.gender) for r in rows] == [
        (created.json()["id"], MARKER, "trans"), (rows[1].case_id, "", equality.PREFER_NOT)]
    assert MARKER not in summaries


async def test_the_page_asks_every_question_with_prefer_not_to_say(client_for, people):
    page = (await (await client_for("chair")).get("/cases/new")).text
    for name in equality.QUESTIONS:
        assert f'<select id="{name}" name="{name}">' in page
    assert page.count('value="prefer_not_to_say"') == len(equality.QUESTIONS)


async def test_no_read_path_shows_the_answers_only_the_figures_count_them(client_for, sessionmaker, registry):
    scenario = await build_conference(sessionmaker, registry)
    async with sessionmaker() as db:
        equality.record(db, scenario.case_a, EqualityIn(**ANSWERS))
        await db.commit()
    chair, police = await client_for("chair"), await client_for("pc")
    conference = f"/conferences/{scenario.conference_id}"
    case_paths = (f"/api/cases/{scenario.case_a}", f"/cases/{scenario.case_a}/export.html",
                  f"/api/cases/{scenario.case_a}/export", f"/api/cases/{scenario.case_a}/items",
                  f"/api/conferences/{scenario.conference_id}", conference, "/api/search?q=Nora", "/search?q=Nora")
    state = (await chair.get(f"/api/conferences/{scenario.conference_id}")).json()["conference"]
    reference = (await chair.get(f"/api/cases/{scenario.case_a}")).json()["reference"]
    for client in (chair, police):
        read = [(await whole_case(client, scenario.case_a)).text]
        read += [(await client.get(path)).text for path in case_paths]
        assert all(sign not in text for text in read for sign in SIGNS)
    ended = await chair.post(f"/api/conferences/{scenario.conference_id}/end", json={"version": state["version"]})
    assert ended.status_code == 200, ended.text
    for path in ("minutes.md", "minutes.html"):
        minutes = (await chair.get(f"{conference}/{path}")).text
        assert reference in minutes and all(sign not in minutes for sign in SIGNS)
    figures = {(f["measure"], f["shown"]) for f in (await chair.get("/api/figures")).json()["overall"]}
    assert {("lgbt_victims", "fewer than 5"), ("disabled_victims", "fewer than 5")} <= figures
    assert MARKER not in (await chair.get("/figures.csv")).text
