"""The coordinator's figures for a period: cases heard, repeat referrals, children, high risk,
conference actions done on time per agency and referrals by source; as a page with charts, CSV
and JSON that agree; counts under five hidden; nothing that identifies a case or a person."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator import figures
from coordinator.models import AgendaItem, Case, CaseLink, CasePerson, Conference, EqualityAnswers, Task, TaskEvent

Q3 = "from=2026-07-01&to=2026-09-30"
UTC = dt.UTC
SURVIVOR = "Zelda Quince"
TITLE = "Northshire MARAC"


def at(day: str, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


@pytest.fixture
async def quarter(sessionmaker, people):
    """A third quarter of 2026 (Europe/London, summer time: UTC+1), built row by row so that every
    date is known:

    - two conferences ended in the quarter, one ended at 23:30 UTC on 30 September (already
      1 October in London), one still live;
    - 12 cases discussed (one of them at both conferences), one left pending, two heard only
      after the quarter: 3 repeats, 6 with children, 9 high risk;
    - conference actions due in the quarter: police 12 (7 on time: one marked done at 22:30 UTC on
      its due day, still that day in London; 3 late: one marked done at 23:30 UTC on its due day,
      the next day in London; 2 open), health 3 (all on time); left out: a police one not applicable, one
      due after the quarter, one from an agency's own task list;
    - referrals created in the quarter: police 7, health 2, none recorded 5.
    """
    chair = people["chair"].id
    async with sessionmaker() as db:
        def case(n: int, **values) -> Case:
            made = Case(reference=f"C-2026-{n:04d}", kind="domestic_abuse", risk_level=values.pop("risk", "high"),
                        created_by_id=chair, created_at=values.pop("created_at", at("2026-01-10")), **values)
            made.people = [CasePerson(role="survivor", name=f"{SURVIVOR} {n}")]
            db.add(made)
            return made

        heard = [case(n, referral_grounds="checklist", risk="high" if n < 9 else "medium") for n in range(12)]
        # Repeats are read from the links: three linked to a case referred within the window before them;
        # one linked to a case referred longer ago, one marked "repeat" by hand and one "not the same" are not.
        within, long_ago = case(60, created_at=at("2025-03-01")), case(61, created_at=at("2024-12-01"))
        heard[3].referral_grounds = "checklist,repeat"
        await db.flush()
        for made, before, same in ((heard[0], within, True), (heard[1], within, True), (heard[2], within, True),
                                   (heard[4], long_ago, True), (heard[5], within, False)):
            db.add(CaseLink(earlier_case_id=before.id, later_case_id=made.id, same=same, decided_by_id=chair))
        for made in heard[:6]:
            made.people.append(CasePerson(role="child", name=f"Child of {made.reference}"))
        for n, made in enumerate(heard):  # her equality answers, as the return's categories count them
            db.add(EqualityAnswers(
                case_id=made.id, ethnicity=("asian", "black", "mixed", "other", "asian", "black")[n] if n < 6 else "white",
                disability="yes" if n < 5 else "no", sexual_orientation="bisexual" if n < 2 else "heterosexual",
                gender="trans" if n == 2 else "male" if n == 11 else "female", age_16_17="no"))
        db.add(EqualityAnswers(case_id=within.id, ethnicity="black", disability="yes", sexual_orientation="bisexual",
                               gender="male", age_16_17="yes"))  # not heard in the quarter: not counted
        pending, later = case(20), [case(21, risk="standard"), case(22, risk="standard")]
        referred = [case(30 + n, created_at=at("2026-08-01"), referring_agency=agency)
                    for n, agency in enumerate(["police"] * 7 + ["health"] * 2 + [None] * 5)]
        case(50, created_at=at("2026-06-30", 22, 59), referring_agency="health")  # 30 June in London too
        await db.flush()

        def conference(title: str, status: str, ended: dt.datetime | None, agenda: list[tuple[Case, str]]):
            made = Conference(title=title, scheduled_at=ended or at("2026-09-20"), chair_id=chair,
                              created_by_id=chair, status=status, ended_at=ended)
            made.agenda = [AgendaItem(case_id=c.id, position=i, group="adults", status=s)
                           for i, (c, s) in enumerate(agenda)]
            db.add(made)
            return made

        first = conference(TITLE, "ended", at("2026-07-15"),
                           [(c, "discussed") for c in heard[:7]] + [(pending, "pending")])
        conference(TITLE, "ended", at("2026-09-10"), [(c, "discussed") for c in heard[6:]])
        conference(TITLE, "ended", at("2026-09-30", 23, 30), [(c, "discussed") for c in later])
        conference(TITLE, "live", None, [(later[0], "discussed")])
        await db.flush()

        def task(agency: str, due: str, status: str = "open", done: dt.datetime | None = None, source="conference"):
            made = Task(case_id=heard[0].id, agency=agency, title=f"Visit {SURVIVOR}", domain="victim",
                        due_on=dt.date.fromisoformat(due), status=status, source=source, conference_id=first.id)
            made.history = [TaskEvent(status="open", at=at("2026-07-15"))]
            if done:
                made.history.append(TaskEvent(status="done", at=done))
            db.add(made)

        for _ in range(6):
            task("police", "2026-08-20", "done", at("2026-08-19"))
        task("police", "2026-08-20", "done", at("2026-08-20", 22, 30))  # 23:30 in London: on time
        task("police", "2026-08-20", "done", at("2026-08-20", 23, 30))  # 00:30 on the 21st in London: late
        task("police", "2026-08-20", "done", at("2026-08-25"))
        task("police", "2026-08-20", "done", at("2026-09-01"))
        task("police", "2026-09-30")
        task("police", "2026-07-31", "in_progress")
        for _ in range(3):
            task("health", "2026-09-01", "done", at("2026-08-01"))
        task("police", "2026-09-01", "not_applicable")
        task("health", "2026-10-01", "done", at("2026-08-01"))
        task("police", "2026-08-20", "done", at("2026-08-01"), source="agency_list")
        await db.commit()
    return {"heard": heard, "referred": referred}


def table_rows(page: str) -> dict[tuple[str, str], list[str]]:
    """The page's tables as {(section heading, row heading): cells}."""
    rows = {}
    for section, body in re.findall(r'<h2 id="[\w-]+">([^<]+)</h2>(.*?)</section>', page, re.S):
        for heading, cells in re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', body, re.S):
            rows[(section, heading)] = re.findall(r"<td>([^<]*)</td>", cells)
    return rows


async def test_the_page_shows_the_quarter_with_every_count_under_five_hidden(client_for, quarter):
    page = await (await client_for("chair")).get(f"/figures?{Q3}")
    assert page.status_code == 200, page.text
    rows = table_rows(page.text)
    heard = "Cases heard"
    assert rows[(heard, "Conferences held")] == ["fewer than 5", "", ""]
    assert rows[(heard, "Cases heard")] == ["12", "", ""]
    assert rows[(heard, "Repeat referrals")] == ["fewer than 5", "12", ""]
    assert rows[(heard, "Cases with children")] == ["6", "12", "50%"]
    assert rows[(heard, "High risk")] == ["all but fewer than 5", "12", ""]  # 3 not high risk
    assert rows[(heard, "Black, Asian and minority ethnic victims")] == ["6", "12", "50%"]
    assert rows[(heard, "Victims with a disability")] == ["5", "12", "42%"]
    assert rows[(heard, "Lesbian, gay, bisexual and trans victims")] == ["fewer than 5", "12", ""]  # 3
    assert rows[(heard, "Male victims")] == ["fewer than 5", "12", ""]
    assert rows[(heard, "Victims aged 16-17")] == ["fewer than 5", "12", ""]  # none
    actions = "Conference actions completed on time, by agency"
    assert rows[(actions, "Police")] == ["12", "7", "58%"]
    assert rows[(actions, "Health care")] == ["fewer than 5", "fewer than 5", ""]
    assert rows[(actions, "Social work")] == ["fewer than 5", "fewer than 5", ""]  # none: said the same way
    sources = "Referrals by source"
    assert rows[(sources, "Police")] == ["7"]
    assert rows[(sources, "Health care")] == ["fewer than 5"]
    assert rows[(sources, "Not recorded")] == ["5"]
    for small in ("1", "2", "3", "4"):  # no count under five anywhere in a table
        assert all(small not in cells for cells in rows.values()), small


async def test_the_csv_and_the_json_hold_the_numbers_the_page_shows(client_for, quarter):
    chair = await client_for("chair")
    page = table_rows((await chair.get(f"/figures?{Q3}")).text)
    download = await chair.get(f"/figures.csv?{Q3}")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert 'filename="figures-2026-07-01-to-2026-09-30.csv"' in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert {(r["from"], r["to"]) for r in rows} == {("2026-07-01", "2026-09-30")}
    by_key = {(r["measure"], r["group"]): r for r in rows}
    for (section, heading), cells in page.items():
        if section == "Cases heard":
            row = by_key[(heading, "")]
            assert [row["value"], row["of"], row["percent"] and row["percent"] + "%"] == cells
        elif section == "Threat-assessment teams":
            measure, _, group = heading.partition(": ")
            row = by_key[(measure, group)]
            assert [row["value"], row["of"], row["percent"] and row["percent"] + "%"] == cells
        elif section.startswith("Conference actions"):
            row = by_key[("Actions completed on time", heading)]
            assert [row["of"] or "fewer than 5", row["value"], row["percent"] and row["percent"] + "%"] == cells
        else:
            assert [by_key[("Referrals", heading)]["value"]] == cells
    assert len(rows) == sum(1 for _ in page)
    api = (await chair.get(f"/api/figures?{Q3}")).json()
    shown = {(f["label"], f["group"]): (f["shown"], f["count"], f["of"], f["percent"])
             for part in ("overall", "actions", "sources", "teams") for f in api[part]}
    for row in rows:
        assert shown[(row["measure"], row["group"])][0] == row["value"]
    assert shown[("Repeat referrals", "")] == ("fewer than 5", None, 12, None)  # the JSON hides it too


async def test_nothing_identifying_in_the_page_the_csv_or_the_json(client_for, quarter):
    chair = await client_for("chair")
    for path in ("/figures", "/figures.csv", "/api/figures"):
        body = (await chair.get(f"{path}?{Q3}")).text
        for case in quarter["heard"] + quarter["referred"]:
            assert case.reference not in body, (path, case.reference)
        assert SURVIVOR not in body and "Child of" not in body and TITLE not in body, path


async def test_only_those_who_coordinate_see_the_figures(client_for, people):
    member = await client_for("pc")
    for path in ("/figures", "/figures.csv", "/api/figures"):
        refused = await member.get(path)
        assert refused.status_code == 403, path
    dashboard = (await member.get("/")).text
    assert 'href="/figures"' not in dashboard
    assert 'href="/figures"' in (await (await client_for("chair")).get("/")).text
    anonymous = await client_for()
    assert (await anonymous.get("/api/figures")).status_code == 401


@pytest.mark.parametrize("query, field", [
    ("from=2026-13-01", "from"), ("to=yesterday", "to"), ("from=0001-01-01", "from"), ("to=9999-12-31", "to"),
    ("from=2026-09-30&to=2026-07-01", "to"),
])
async def test_a_bad_period_is_refused_naming_the_parameter(client_for, people, query, field):
    chair = await client_for("chair")
    answer = await chair.get(f"/api/figures?{query}")
    assert answer.status_code == 400 and answer.json()["field"] == field, answer.text
    for path in ("/figures", "/figures.csv"):
        assert (await chair.get(f"{path}?{query}")).status_code == 400


async def test_without_a_period_the_page_shows_the_current_quarter(client_for, people):
    api = (await (await client_for("chair")).get("/api/figures")).json()
    start, end = dt.date.fromisoformat(api["start"]), dt.date.fromisoformat(api["end"])
    assert start.day == 1 and start.month in (1, 4, 7, 10) and start <= dt.date.today() <= end
    assert (end + dt.timedelta(days=1)).day == 1 and (end - start).days in range(89, 92)
    given_from = (await (await client_for("chair")).get("/api/figures?from=2026-02-10")).json()
    assert (given_from["start"], given_from["end"]) == ("2026-02-10", "2026-03-31")


async def test_the_charts_draw_a_bar_for_each_shown_value_and_none_for_a_hidden_one(client_for, quarter):
    page = (await (await client_for("chair")).get(f"/figures?{Q3}")).text
    charts = re.findall(r'<svg class="chart" role="img".*?</svg>', page, re.S)
    assert len(charts) == 3
    shares, actions, sources = charts
    assert shares.count("<rect") == 1 and ">50%</text>" in shares  # children only
    assert actions.count("<rect") == 1 and ">58%</text>" in actions
    assert sources.count("<rect") == 2 and ">fewer than 5</text>" in sources  # police 7, not recorded 5


@given(n=st.integers(0, 60), rest=st.integers(0, 60))
def test_no_published_share_gives_away_a_count_or_a_rest_under_five(n, rest):
    share = figures._share("m", "M", n, n + rest)
    if n < 5 or rest < 5:
        assert share.count is None and share.percent is None and share.shown in ("fewer than 5", "all but fewer than 5")
    else:
        assert share.count == n and share.shown == str(n) and share.percent == round(100 * n / (n + rest))
    assert share.of in (None, n + rest) and (share.of is None) == (n + rest < 5)
    count = figures._count("m", "M", n)
    assert (count.count, count.shown) == ((None, "fewer than 5") if n < 5 else (n, str(n)))


async def test_repeats_are_read_from_the_links_within_the_window(quarter, sessionmaker):
    heard = quarter["heard"]
    async with sessionmaker() as db:
        repeats = await figures._repeats(db, [c.id for c in heard], repeat_window_days=365)
        assert repeats == {heard[0].id, heard[1].id, heard[2].id}
        wider = await figures._repeats(db, [c.id for c in heard], repeat_window_days=500)
        assert wider == {heard[0].id, heard[1].id, heard[2].id, heard[4].id}
