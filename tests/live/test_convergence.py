"""Open live pages converge on the truth: after any sequence of changes to the conference and to
the cases on its agenda, made through the JSON API and the page's forms by the people who may
make them, every open page shows exactly what a freshly opened page of the same person shows.

A page here is what the browser keeps: the latest version of every fragment it was sent. The
changes are announced as the server announces them (committed events, through the hub's own
part-to-fragment maps) and delivered by the room's own renderer; only the channels between are
left out, so the check is deterministic. A fragment that a change should move but does not (the
case's lead agency after a role change, once) leaves a page that differs from a fresh one.
"""

from __future__ import annotations

import json
import shutil
import uuid

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from coordinator.accounts import actor_of, user_by_username
from coordinator.app import create_app
from coordinator.conference import participation
from coordinator.conference.state import ASPECTS, EVERYTHING
from coordinator.events import CASE_PARTS, CONFERENCE_PARTS
from coordinator.settings import Settings
from coordinator.web.live.hub import CASE_PART_ASPECTS, CONFERENCE_PART_ASPECTS, FRAGMENT_READS, Member, Room
from tests.conference_scenario import build_conference
from tests.conftest import PG_URL, Client
from tests.databases import empty_tables
from tests.examples import examples
from tests.live.clients import fragments

AGENCIES = ["police", "social_work", "health"]
MEMBER_OF = {"police": "pc", "social_work": "sw", "health": "doc"}
CATEGORY_OF = {"police": "police.call_outs", "social_work": "social_work.finances", "health": "health.injuries"}
RESPONSIBILITIES = ["lead_agency", "safety_planning", "victim_contact", "perpetrator_management"]
PAGES = ["chair", "cochair", "pc", "sw", "doc"]  # four audiences of three agencies
EXAMPLES = examples(ci=6, workstation=12)  # 12: about a minute on two cores

agency = st.sampled_from(AGENCIES)
step = st.one_of(
    st.tuples(st.just("note"), st.sampled_from(["chair", "cochair"]), st.sampled_from(["api", "form"])),
    st.tuples(st.just("role"), st.sampled_from(RESPONSIBILITIES), agency, st.sampled_from(["meeting", "case", "form"])),
    st.tuples(st.just("volunteer"), agency, st.sampled_from(RESPONSIBILITIES[1:])),
    st.tuples(st.just("move"), st.integers(0, 2)),
    st.tuples(st.just("action"), agency, st.sampled_from(["add", "done", "blocked", "confirm"])),
    st.tuples(st.just("item"), agency),
    st.tuples(st.just("consent"), agency, agency),
    st.tuples(st.just("withdraw"), st.just(0)),
    st.tuples(st.just("task"), agency, st.sampled_from(["in_progress", "blocked", "done"])),
    st.tuples(st.just("risk"), st.integers(5, 20)),
    st.tuples(st.just("agency"), st.just("housing")),
    st.tuples(st.just("people"), st.sampled_from(["invite", "remove"])),
)


class RecordingChannels:
    """Stands in for the channels: the hub publishes committed events here, and the test hands
    them to the room as its subscription would, in order."""

    started = True
    on_recovered = None

    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, payload: str, topic: str) -> None:
        self.published.append((topic, payload))


class World:
    def __init__(self, app, scenario, clients) -> None:  # noqa: ANN001
        self.app, self.scenario, self.clients = app, scenario, clients
        self.conference = f"/api/conferences/{scenario.conference_id}"
        self.live = app.state.live
        self.channels = RecordingChannels()
        self.live.channels = self.channels
        self.room = Room(self.live, scenario.conference_id)
        self.topics = {self.live.conference_topic(scenario.conference_id),
                       *(self.live.case_topic(c) for c in (scenario.case_a, scenario.case_b, scenario.case_c))}
        self.pages: dict[str, Member] = {}
        self.shown: dict[str, dict[str, str]] = {}

    async def state(self) -> dict:
        return (await self.clients["chair"].get(self.conference)).json()["conference"]

    async def open_pages(self) -> None:
        for name in PAGES:
            self.pages[name] = await self.fresh(name)
            self.shown[name] = {}
        self.room.members.update(self.pages.values())
        await self.room._deliver(EVERYTHING, list(self.pages.values()))
        self.receive()

    async def fresh(self, name: str) -> Member:
        async with self.app.state.sessionmaker() as session:
            actor = actor_of(await user_by_username(session, name))
            return Member(actor, (await participation.seat(session, actor, self.scenario.conference_id)).audience,
                          None, outbox_limit=10_000)

    def receive(self) -> None:
        for name, page in self.pages.items():
            while not page.outbox.empty():
                self.shown[name].update(fragments(page.outbox.get_nowait()))

    async def settle(self) -> None:
        """Hand the room what was announced, as its subscription would, and let it work."""
        announced, self.channels.published = self.channels.published, []
        for topic, payload in announced:
            if topic not in self.topics:
                continue
            aspects = self.room._aspects_of(json.loads(payload))
            if aspects:
                await self.room._deliver(frozenset(aspects), self.open())
        while not self.room._inbox.empty():  # pages whose audience changed get the whole page
            job = self.room._inbox.get_nowait()
            if isinstance(job, Member):
                await self.room._deliver(EVERYTHING, [job])
        self.receive()

    def open(self) -> list[Member]:
        return [page for page in self.pages.values() if not page.removed.is_set()]


async def _form(client: Client, path: str, data: dict):  # noqa: ANN202
    return await client.post(path, data={k: str(v) for k, v in data.items()}, headers={"hx-request": "true"})


async def perform(world: World, kind: str, *args) -> None:  # noqa: ANN002
    """One change, by someone who may make it (a refusal is fine; a server error is not)."""
    c, s = world.clients, world.scenario
    state = await world.state()
    case_id = state["current_case_id"]
    roles = {r["key"]: r for r in state.get("roles") or []}
    response = None
    if kind == "note":
        who, path = args
        body = {"case_id": case_id, "kind": "decision", "text": f"Decision {uuid.uuid4().hex[:6]}"}
        response = (await c[who].post(f"{world.conference}/notes", json=body) if path == "api"
                    else await _form(c[who], f"/conferences/{s.conference_id}/changes/note", body))
    elif kind == "role":
        responsibility, holder, path = args
        version = roles.get(responsibility, {}).get("version", 0)
        body = {"responsibility": responsibility, "agency": holder, "version": version}
        if path == "meeting":
            response = await c["chair"].post(f"{world.conference}/roles", json={**body, "case_id": case_id})
        elif path == "form":
            response = await _form(c["chair"], f"/conferences/{s.conference_id}/changes/assign-role",
                                   {**body, "case_id": case_id})
        else:  # the case's role map, outside the meeting's own routes
            response = await c["chair"].post(f"/api/cases/{case_id}/roles", json=body)
    elif kind == "volunteer":
        volunteer, responsibility = args
        version = roles.get(responsibility, {}).get("version", 0)
        response = await c[MEMBER_OF[volunteer]].post(f"{world.conference}/roles/volunteer", json={
            "case_id": case_id, "responsibility": responsibility, "version": version})
    elif kind == "move":
        pending = [e for e in state["agenda"] if e["id"] != state["current_item_id"]]
        target = pending[args[0] % len(pending)]
        response = await c["chair"].post(f"{world.conference}/move", json={"item_id": target["id"],
                                                                           "version": state["version"]})
    elif kind == "action":
        owner, change = args
        actions = state.get("actions") or []
        if change == "add" or not actions:
            response = await c["chair"].post(f"{world.conference}/actions", json={
                "case_id": case_id, "agency": owner, "title": "Check on the family", "domain": "victim"})
        elif change == "confirm":
            response = await c["chair"].post(f"{world.conference}/actions/confirm", json={
                "task_id": actions[-1]["id"], "version": actions[-1]["version"]})
        else:
            response = await c[MEMBER_OF[actions[-1]["agency"]]].post(f"{world.conference}/actions/status", json={
                "task_id": actions[-1]["id"], "status": change, "version": actions[-1]["version"],
                "reason": "Waiting" if change == "blocked" else None})
    elif kind == "item":
        response = await c[MEMBER_OF[args[0]]].post(f"/api/cases/{case_id}/items", json={
            "category": CATEGORY_OF[args[0]], "nature": "fact", "text": f"Seen {uuid.uuid4().hex[:6]}"})
    elif kind == "consent":
        owner, recipient = args
        response = await c["chair"].post(f"/api/cases/{case_id}/consents", json={
            "purpose": "safety planning", "method": "verbal", "given_by": "the survivor",
            "categories": [CATEGORY_OF[owner]], "recipients": [recipient]})
    elif kind == "withdraw":
        given = (await c["chair"].get(f"/api/cases/{case_id}/consents")).json()
        if given:
            response = await c["chair"].post(f"/api/cases/{case_id}/consents/{given[-1]['id']}/withdrawals",
                                             json={"note": "asked to stop"})
    elif kind == "task":
        owner, status = args
        open_tasks = [t for t in (await c["chair"].get(f"/api/cases/{case_id}/tasks")).json()
                      if t["agency"] == owner and t["status"] not in ("done", "not_applicable")]
        if open_tasks:
            task = open_tasks[0]
            response = await c[MEMBER_OF[owner]].patch(f"/api/tasks/{task['id']}", json={
                "status": status, "version": task["version"], "reason": "Waiting" if status == "blocked" else None})
    elif kind == "risk":
        case = (await c["chair"].get(f"/api/cases/{case_id}")).json()
        response = await c["chair"].post(f"/api/cases/{case_id}/risk", json={
            "version": case["version"], "reason": "New incident", "checklist_score": args[0]})
    elif kind == "agency":
        response = await c["chair"].post(f"/api/cases/{case_id}/agencies", json={"agency": args[0]})
    elif kind == "people":
        participant = next((p for p in state["participants"] if p["name"] == "Outsider"), None)
        if args[0] == "invite" and participant is None:
            response = await c["chair"].post(f"{world.conference}/participants", json={"user_id": s.users["outsider"]})
        elif args[0] == "remove" and participant is not None:
            response = await c["chair"].delete(f"{world.conference}/participants/{participant['participant_id']}")
    if response is not None:
        assert response.status_code < 500, (kind, args, response.text)


async def _database() -> str:
    if PG_URL:
        await empty_tables(PG_URL)
        return PG_URL
    return ""


def test_every_fragment_says_what_it_reads_and_every_part_moves_what_reads_it():
    assert set(FRAGMENT_READS) == set(ASPECTS)
    assert set(CASE_PART_ASPECTS) == set(CASE_PARTS) and set(CONFERENCE_PART_ASPECTS) == set(CONFERENCE_PARTS)
    assert "case" in CASE_PART_ASPECTS["roles"]  # the case's facts name the lead agency


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=8))
@example(steps=[("role", "lead_agency", "police", "meeting"), ("role", "lead_agency", "health", "case"),
                ("consent", "health", "police"), ("item", "health"), ("move", 1), ("people", "invite"),
                ("action", "police", "add"), ("action", "police", "blocked"), ("risk", 18), ("agency", "housing")])
async def test_every_open_page_equals_a_fresh_page_of_the_same_person(migrated_template, registry, tmp_path, steps):
    url = await _database()
    if not url:
        path = tmp_path / f"{uuid.uuid4().hex}.db"
        shutil.copy(migrated_template, path)
        url = f"sqlite+aiosqlite:///{path}"
    app = create_app(Settings(database_url=url, secret_key="test-secret-key-0123456789"), registry)
    clients: dict[str, Client] = {}
    try:
        scenario = await build_conference(app.state.sessionmaker, registry)
        for name in PAGES:
            clients[name] = Client(app)
            assert (await clients[name].login(name)).status_code == 200
        world = World(app, scenario, clients)
        await world.open_pages()
        for kind, *args in steps:
            await perform(world, kind, *args)
            await world.settle()
        for name, page in world.pages.items():
            if page.removed.is_set():
                continue
            fresh = await world.fresh(name)
            await world.room._deliver(EVERYTHING, [fresh])
            expected = fragments(fresh.outbox.get_nowait())
            stale = {dom_id for dom_id in expected if world.shown[name].get(dom_id) != expected[dom_id]}
            assert not stale, f"{name}'s open page differs from a fresh one in {sorted(stale)} after {steps}"
    finally:
        for client in clients.values():
            await client.aclose()
        await app.state.engine.dispose()
