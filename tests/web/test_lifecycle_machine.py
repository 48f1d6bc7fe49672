"""The case's lifecycle as a state machine driven through the HTTP API: edits, reassessments,
stage moves, follow-ups, closure requests, refusals and approvals, reopenings and referrals, by the
right and the wrong people, with the current version and a stale one. After every step: no 5xx;
the version only grows; the history's stage chain runs from each move's "to" to the next one's
"from"; at most one closure awaits a decision; a closed case refuses every write but reopening and
a reopened case takes them again. Runs on SQLite, and on PostgreSQL when
COORDINATOR_TEST_DATABASE_URL is set (as every web test).

Hypothesis' stateful tests are synchronous: each step runs the app's async client to completion
on an event loop of the test's own, where the app and its database engine live too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from coordinator import accounts
from coordinator.app import create_app
from coordinator.settings import Settings
from tests.conftest import PASSWORD, PG_URL, REFERRAL, Client
from tests.databases import empty_tables
from tests.examples import examples

TODAY = dt.date.today()
# username -> (agency, account role); social work leads the case.
PEOPLE = {"chair": ("social_work", "coordinator"), "sw": ("social_work", "member"), "pc": ("police", "member"),
          "supervisor": ("social_work", "supervisor"), "boss": ("police", "supervisor")}
CASE_WORKERS = {"chair", "sw", "supervisor", "boss"}  # coordinating roles, and the lead agency's member
SUPERVISORS = {"supervisor", "boss"}
STAGES = ("referral", "information_gathering", "conference", "action_plan", "follow_up")

actors = st.sampled_from(sorted(PEOPLE))
stale = st.booleans()


class World:
    """The app on a fresh database, with each person logged in: built on the machine's own loop."""

    def __init__(self, template: str, registry) -> None:
        self.loop = asyncio.new_event_loop()
        self.directory = Path(tempfile.mkdtemp(prefix="lifecycle-machine-"))
        self.template, self.registry = template, registry

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    async def open(self) -> None:
        if PG_URL:
            await empty_tables(PG_URL)
            url = PG_URL
        else:
            path = self.directory / "machine.db"
            shutil.copy(self.template, path)
            url = f"sqlite+aiosqlite:///{path}"
        self.app = create_app(Settings(database_url=url, secret_key="test-secret-key-0123456789"), self.registry)
        async with self.app.state.sessionmaker() as session:
            for username, (agency, role) in PEOPLE.items():
                await accounts.create_user(session, username=username, agency=agency, role=role, password=PASSWORD,
                                           display_name=username.title(), agencies=self.registry.keys)
            await session.commit()
        self.clients = {}
        for username in PEOPLE:
            client = Client(self.app)
            answer = await client.login(username)
            assert answer.status_code == 200, answer.text
            self.clients[username] = client

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        await self.app.state.engine.dispose()

    def call(self, who: str, method: str, path: str, body: dict | None = None):
        client = self.clients[who]
        answer = self.run(getattr(client, method)(path, **({"json": body} if body is not None else {})))
        assert answer.status_code < 500, (who, method, path, answer.status_code, answer.text[:500])
        return answer


class LifecycleMachine(RuleBasedStateMachine):
    world: World  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self.world.run(self.world.open())
        created = self.world.call("chair", "post", "/api/cases", REFERRAL)
        assert created.status_code == 201, created.text
        case = created.json()
        self.case_id, self.first_stage = case["id"], case["stage"]
        self.version, self.stage, self.closed = case["version"], case["stage"], False
        self.pending: dict | None = None  # the closure awaiting a decision
        self.requested_by = ""
        self.referred = False  # an open referral to housing
        self.planned: list[dict] = []  # follow-ups awaiting their outcome
        self.edits = 0

    def teardown(self) -> None:
        self.world.run(self.world.close())

    # --- helpers ------------------------------------------------------------------------------

    @property
    def case_path(self) -> str:
        return f"/api/cases/{self.case_id}"

    def seen(self, old: bool) -> int:
        return self.version - 1 if old and self.version > 1 else self.version + (5 if old else 0)

    def expect_write(self, answer, who: str, old: bool, ok: int) -> bool:
        """A case worker's change: refused while closed (409), to anyone else (403), on a stale
        version (409); else ``ok``. True when it was written."""
        if self.closed:
            assert answer.status_code == 409 and "this case is closed" in answer.text, answer.text
        elif who not in CASE_WORKERS:
            assert answer.status_code == 403, answer.text
        elif old:
            assert answer.status_code == 409 and answer.json()["field"] == "version", answer.text
        else:
            assert answer.status_code == ok, answer.text
            return True
        return False

    # --- rules --------------------------------------------------------------------------------

    @rule(who=actors, old=stale)
    def edit(self, who: str, old: bool) -> None:
        self.edits += 1
        answer = self.world.call(who, "patch", self.case_path, {
            "version": self.seen(old), "reason": "new circumstances", "summary": f"Summary {self.edits}"})
        self.expect_write(answer, who, old, 200)

    @rule(who=actors, old=stale, score=st.integers(min_value=0, max_value=24))
    def reassess(self, who: str, old: bool, score: int) -> None:
        answer = self.world.call(who, "post", f"{self.case_path}/risk", {
            "version": self.seen(old), "reason": "reviewed", "checklist_score": score})
        self.expect_write(answer, who, old, 201)

    @rule(who=actors, old=stale, stage=st.sampled_from(STAGES))
    def move_stage(self, who: str, old: bool, stage: str) -> None:
        answer = self.world.call(who, "post", f"{self.case_path}/stage", {
            "version": self.seen(old), "stage": stage, "reason": "the work moved on"})
        if not self.closed and who in CASE_WORKERS and stage == self.stage:
            assert answer.status_code == 400, answer.text  # already there: checked before the version
            return
        if self.expect_write(answer, who, old, 201):
            self.stage = stage

    @rule(who=actors)
    def plan_follow_up(self, who: str) -> None:
        answer = self.world.call(who, "post", f"{self.case_path}/follow-ups", {
            "agency": "social_work", "planned_on": TODAY.isoformat(), "method": "visit", "safe_to_call": False})
        if self.closed:
            assert answer.status_code == 409, answer.text
        elif PEOPLE[who][0] != "social_work" and PEOPLE[who][1] == "member":
            assert answer.status_code == 403, answer.text
        else:
            assert answer.status_code == 201, answer.text
            self.planned.append(answer.json())

    @precondition(lambda self: self.planned)
    @rule(who=actors, risk=st.sampled_from(("standard", "medium", "high")))
    def record_follow_up(self, who: str, risk: str) -> None:
        """Her safety reassessed at the contact: a higher risk raises the case's, a new version."""
        planned = self.planned[0]
        answer = self.world.call(who, "post", f"/api/follow-ups/{planned['id']}/outcome", {
            "version": planned["version"], "outcome": "reached", "attempted_on": TODAY.isoformat(),
            "safety_status": "She feels safer at her sister's", "updated_risk": risk})
        if self.closed:
            assert answer.status_code == 409 and "this case is closed" in answer.text, answer.text
        elif PEOPLE[who][0] != "social_work" and PEOPLE[who][1] == "member":
            assert answer.status_code == 403, answer.text
        else:
            assert answer.status_code == 200, answer.text
            self.planned.pop(0)

    @rule(who=actors)
    def request_closure(self, who: str) -> None:
        reviews = [{"task_id": t["id"], "decision": "not_applicable", "reason": "she moved away"}
                   for t in self.world.call("chair", "get", f"{self.case_path}/tasks").json()
                   if t["status"] not in ("done", "not_applicable") and t["source"] != "standing"]
        answer = self.world.call(who, "post", f"{self.case_path}/closure", {
            "criterion": "relocated", "closing_on": TODAY.isoformat(), "reasons": "moved to another city",
            "tasks": reviews})
        if self.closed:
            assert answer.status_code == 409, answer.text
        elif who not in CASE_WORKERS:
            assert answer.status_code == 403, answer.text
        elif self.pending is not None:
            assert answer.status_code == 409 and "already awaiting" in answer.text, answer.text
        else:
            assert answer.status_code == 201, answer.text
            self.pending, self.requested_by = answer.json(), who

    @precondition(lambda self: self.pending is not None)
    @rule(who=actors, approve=st.booleans())
    def decide_closure(self, who: str, approve: bool) -> None:
        answer = self.world.call(who, "post", f"{self.case_path}/closures/{self.pending['id']}/decision",
                                 {"approve": approve, "note": "" if approve else "the safety plan first"})
        if who not in SUPERVISORS or who == self.requested_by:
            assert answer.status_code == 403, answer.text
            return
        assert answer.status_code == 201, answer.text
        self.pending = None
        if approve:
            self.closed, self.stage = True, "closed"

    @precondition(lambda self: self.pending is not None)
    @rule(who=st.sampled_from(sorted(SUPERVISORS)))
    def approve_closure(self, who: str) -> None:
        """A supervisor's approval, drawn on its own so that runs reach closed cases often."""
        self.decide_closure(who, approve=True)

    @rule(who=actors)
    def reopen(self, who: str) -> None:
        answer = self.world.call(who, "post", f"{self.case_path}/reopen", {"reason": "she asked for help again"})
        if PEOPLE[who][1] == "member":
            assert answer.status_code == 403, answer.text
        elif not self.closed:
            assert answer.status_code == 409, answer.text
        else:
            assert answer.status_code == 201, answer.text
            assert answer.json()["lead_agency"] == "social_work"  # the role map as it stood at closure
            self.closed, self.stage = False, "follow_up"

    @precondition(lambda self: self.closed)
    @rule(who=actors)
    def reopen_closed(self, who: str) -> None:
        """Reopening drawn while the case is closed, so that runs go on to change a reopened case."""
        self.reopen(who)

    @rule(who=actors)
    def refer(self, who: str) -> None:
        answer = self.world.call(who, "post", f"{self.case_path}/referrals", {
            "to_agency": "housing", "purpose": "a safe home", "method": "written", "given_by": "Nora",
            "categories": ["police.call_outs"]})
        if self.closed:
            assert answer.status_code == 409, answer.text
        elif who not in CASE_WORKERS:
            assert answer.status_code == 403, answer.text
        elif self.referred:
            assert answer.status_code == 409 and "still open" in answer.text, answer.text
        else:
            assert answer.status_code == 201, answer.text
            self.referred = True

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def the_case_is_as_the_model_says_and_its_version_only_grows(self) -> None:
        case = self.world.call("chair", "get", self.case_path).json()
        assert case["version"] >= self.version
        self.version = case["version"]
        assert (case["closed_at"] is not None, case["stage"]) == (self.closed, self.stage)

    @invariant()
    def the_history_chain_is_continuous(self) -> None:
        revisions = self.world.call("chair", "get", f"{self.case_path}/history").json()["revisions"]
        versions = [r["version"] for r in reversed(revisions)]
        assert versions == sorted(set(versions)) and all(v <= self.version for v in versions)
        stage = self.first_stage
        for revision in reversed(revisions):
            if "stage" in revision["changes"]:
                before, after = revision["changes"]["stage"]
                assert before == stage and after != before, (revision, stage)
                stage = after
        assert stage == self.stage

    @invariant()
    def at_most_one_closure_awaits_a_decision(self) -> None:
        closures = self.world.call("chair", "get", f"{self.case_path}/closures").json()
        pending = [c["id"] for c in closures if c["status"] == "requested"]
        assert pending == ([self.pending["id"]] if self.pending else [])


def test_the_lifecycle_holds_its_invariants_through_the_api(migrated_template, registry):
    world = World(migrated_template, registry)
    LifecycleMachine.world = world
    try:
        run_state_machine_as_test(LifecycleMachine, settings=settings(
            max_examples=examples(ci=3, workstation=6), stateful_step_count=40, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        world.loop.close()
        shutil.rmtree(world.directory, ignore_errors=True)
