"""Two people change the same thing at the same moment through two server processes on one
PostgreSQL database: in every round exactly one wins and the other is answered 409 (never a
silent overwrite, never a 500), only the winner is recorded, and the audit chain stays intact."""

import asyncio
import datetime as dt
import os

import pytest
from sqlalchemy import func, select

from coordinator.models import AuditEntry, Closure, Consent, Participant, Referral, RoleAssignment, TaskEvent
from tests.conftest import REFERRAL
from tests.unit.test_audit import _cli_verify

ROUNDS = 50

pytestmark = pytest.mark.skipif(
    not (os.environ.get("COORDINATOR_TEST_DATABASE_URL") or "").startswith("postgresql"),
    reason="races need two processes on one PostgreSQL database: set COORDINATOR_TEST_DATABASE_URL",
)


class Tally:
    """Rounds fired and how each was answered."""

    def __init__(self, what: str) -> None:
        self.what, self.winners, self.conflicts = what, 0, 0

    async def round(self, first, second, method: str, path: str, body: dict) -> None:
        """Send the same change through both servers at once: one must win, the other get 409."""
        answers = await asyncio.gather(first.api(method, path, body), second.api(method, path, body))
        statuses = sorted(a.status_code for a in answers)
        assert statuses in ([200, 409], [201, 409]), [(a.status_code, a.text[:300]) for a in answers]
        loser = next(a for a in answers if a.status_code == 409)
        assert loser.json()["detail"], loser.text  # refused with a message
        self.winners += 1
        self.conflicts += 1

    def report(self) -> None:
        print(f"\n{self.what}: {ROUNDS} rounds, {self.winners} winners, {self.conflicts} answered 409")
        assert self.winners == self.conflicts == ROUNDS


async def _count(sessionmaker, model, *where) -> int:
    async with sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def _audited(sessionmaker, action: str) -> int:
    return await _count(sessionmaker, AuditEntry, AuditEntry.action == action)


async def _chairs(servers, people_on):
    """The chair logged in on one server, and on the other (another browser)."""
    first, second = servers(), servers()
    (one,) = await people_on(first, "chair")
    (other,) = await people_on(second, "chair")
    return one, other


async def _intact(database_url: str) -> None:
    code, output = await _cli_verify(database_url)
    assert code == 0 and "audit log intact" in output, output


async def test_task_status(servers, people_on, scenario, sessionmaker, database_url):
    one, other = await _chairs(servers, people_on)
    task = next(t for t in (await one.api("GET", f"/api/cases/{scenario.case_a}/tasks")).json()
                if t["agency"] == "police")
    before = await _count(sessionmaker, TaskEvent, TaskEvent.task_id == task["id"])
    tally = Tally("PATCH /api/tasks/{id}")
    for version in range(task["version"], task["version"] + ROUNDS):
        status = "in_progress" if version % 2 else "open"
        await tally.round(one, other, "PATCH", f"/api/tasks/{task['id']}", {"status": status, "version": version})
    tally.report()
    assert await _count(sessionmaker, TaskEvent, TaskEvent.task_id == task["id"]) == before + ROUNDS
    assert await _audited(sessionmaker, "task.status_changed") == ROUNDS
    await _intact(database_url)


async def test_conference_move(servers, people_on, scenario, sessionmaker, database_url):
    one, other = await _chairs(servers, people_on)
    url = f"/api/conferences/{scenario.conference_id}"
    state = (await one.api("GET", url)).json()["conference"]
    items = [entry["id"] for entry in state["agenda"]]
    current = items.index(state["current_item_id"])
    tally = Tally("conference move")
    for version in range(state["version"], state["version"] + ROUNDS):
        current = (current + 1) % len(items)  # on to the next case, round the agenda
        await tally.round(one, other, "POST", f"{url}/move", {"item_id": items[current], "version": version})
    tally.report()
    assert await _audited(sessionmaker, "conference.moved") == ROUNDS
    await _intact(database_url)


async def test_role_assign(servers, people_on, scenario, sessionmaker, database_url):
    one, other = await _chairs(servers, people_on)
    tally = Tally("role assign")
    for version in range(ROUNDS):  # vacant first (version 0), then held at each version in turn
        await tally.round(one, other, "POST", f"/api/conferences/{scenario.conference_id}/roles", {
            "case_id": scenario.case_a, "responsibility": "child_protection", "agency": "social_work",
            "version": version})
    tally.report()
    assert await _count(sessionmaker, RoleAssignment, RoleAssignment.ended_at.is_(None)) == 1
    assert await _count(sessionmaker, RoleAssignment) == ROUNDS
    await _intact(database_url)


async def test_action_confirm(servers, people_on, scenario, sessionmaker, database_url):
    first, second = servers(), servers()
    (chair,) = await people_on(first, "chair")
    (pc,) = await people_on(second, "pc")  # the owning agency confirms as the chair does
    url = f"/api/conferences/{scenario.conference_id}/actions"
    tally = Tally("action confirm")
    for i in range(ROUNDS):
        added = await chair.api("POST", url, {"case_id": scenario.case_a, "agency": "police", "title": f"Action {i}",
                                              "domain": "victim", "due_on": "2030-01-01"})
        assert added.status_code == 200, added.text
        task_id = max(t["id"] for t in (await chair.api("GET", f"/api/cases/{scenario.case_a}/tasks")).json()
                      if t["source"] == "conference")
        await tally.round(chair, pc, "POST", f"{url}/confirm", {"task_id": task_id, "version": 1})
    tally.report()
    assert await _audited(sessionmaker, "action.confirmed") == ROUNDS
    await _intact(database_url)


async def test_invite(servers, people_on, scenario, sessionmaker, database_url, make_user):
    first, second = servers(), servers()
    (chair,) = await people_on(first, "chair")
    (cochair,) = await people_on(second, "cochair")  # a coordinator may invite too
    guests = [await make_user(f"guest{i}", "police") for i in range(ROUNDS)]
    invited_before = await _count(sessionmaker, Participant)
    audited_before = await _audited(sessionmaker, "conference.invited")
    tally = Tally("invite")
    for guest in guests:
        await tally.round(chair, cochair, "POST", f"/api/conferences/{scenario.conference_id}/participants",
                          {"user_id": guest.id})
    tally.report()
    assert await _count(sessionmaker, Participant) == invited_before + ROUNDS
    assert await _audited(sessionmaker, "conference.invited") == audited_before + ROUNDS
    await _intact(database_url)


async def test_add_agency(servers, people_on, scenario, sessionmaker, database_url):
    one, other = await _chairs(servers, people_on)
    added_before = await _audited(sessionmaker, "case.agency_added")
    cases = []
    for _ in range(ROUNDS):
        created = await one.api("POST", "/api/cases", {**REFERRAL, "agencies": ["police"], "lead_agency": None})
        assert created.status_code == 201, created.text
        cases.append(created.json()["id"])
    tally = Tally("add agency")
    for case_id in cases:
        consented = await one.api("POST", f"/api/cases/{case_id}/consents", {
            "purpose": "case conference", "method": "written", "given_by": "Nora",
            "categories": ["police.call_outs"], "recipients": ["health"]})
        assert consented.status_code == 201, consented.text
        await tally.round(one, other, "POST", f"/api/cases/{case_id}/agencies", {"agency": "health"})
    tally.report()
    assert await _audited(sessionmaker, "case.agency_added") == added_before + 2 * ROUNDS  # police, then health once
    await _intact(database_url)


async def _case_with_police_only(chair) -> int:
    created = await chair.api("POST", "/api/cases", {**REFERRAL, "agencies": ["police"], "lead_agency": None})
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_closure_request_without_open_tasks(servers, people_on, scenario, sessionmaker, database_url,
                                                  make_user):
    """The SELECT before the request passes in both processes; the partial unique index (and the
    case's version) leave one request pending, never two."""
    one, other = await _chairs(servers, people_on)
    await make_user("boss", "social_work", "supervisor")
    (boss,) = await people_on(servers(), "boss")
    case_id = await _case_with_police_only(one)
    for task in (await one.api("GET", f"/api/cases/{case_id}/tasks")).json():
        if task["source"] != "standing":
            marked = await one.api("PATCH", f"/api/tasks/{task['id']}", {
                "status": "not_applicable", "reason": "not needed", "version": task["version"]})
            assert marked.status_code == 200, marked.text
    body = {"criterion": "survivor_wishes", "closing_on": dt.date.today().isoformat(), "reasons": "she asked"}
    tally = Tally("closure request")
    for _ in range(ROUNDS):
        await tally.round(one, other, "POST", f"/api/cases/{case_id}/closure", body)
        [requested] = [c for c in (await one.api("GET", f"/api/cases/{case_id}/closures")).json()
                       if c["status"] == "requested"]
        refused = await boss.api("POST", f"/api/cases/{case_id}/closures/{requested['id']}/decision",
                                 {"approve": False, "note": "not yet"})
        assert refused.status_code == 201, refused.text
    tally.report()
    assert await _count(sessionmaker, Closure, Closure.case_id == case_id) == ROUNDS
    assert await _audited(sessionmaker, "case.closure_requested") == ROUNDS
    await _intact(database_url)


async def test_referrals_to_one_agency(servers, people_on, scenario, sessionmaker, database_url):
    """Two referrals of one case to the same agency at once: one is written with its consent, the
    other is refused whole (no consent left behind)."""
    one, other = await _chairs(servers, people_on)
    case_ids = [await _case_with_police_only(one) for _ in range(ROUNDS)]
    consents_before = await _count(sessionmaker, Consent)
    body = {"to_agency": "health", "purpose": "a health check", "method": "written", "given_by": "Nora",
            "categories": ["police.call_outs"]}
    tally = Tally("referral to one agency")
    for case_id in case_ids:
        await tally.round(one, other, "POST", f"/api/cases/{case_id}/referrals", body)
    tally.report()
    assert await _count(sessionmaker, Referral, Referral.case_id.in_(case_ids)) == ROUNDS
    assert await _count(sessionmaker, Consent) == consents_before + ROUNDS
    assert await _audited(sessionmaker, "referral.created") == ROUNDS
    await _intact(database_url)
