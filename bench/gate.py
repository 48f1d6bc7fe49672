"""What the consent gate costs: a case view through the gate against the same view with the gate
bypassed, measured in the same run.

    python bench/gate.py [--repetitions 30]

Builds a throw-away SQLite database with ten agencies (the three installed, seven more registered
through entry points exactly as installed ones are), one case with 1,000 items and 50 consents
(some partly withdrawn). Then, interleaved:

- filtered: ``gate.visible_items`` for one viewer (grants, decisions, text of the visible
  items only, the disclosure audit entry and rows, committed) and the items partial rendered;
- bypassed: every item's text selected directly, the same partial rendered, committed.

Prints the medians and, last, ``gate ratio=<filtered/bypassed>`` (the target is under 1.2).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from sqlalchemy import func, insert, select

from coordinator import accounts, cases, consents, db, gate, hookimpl, policy
from coordinator.accounts import actor_of
from coordinator.app import create_app
from coordinator.cases import PersonIn, ReferralIn
from coordinator.consents import ConsentIn, WithdrawalIn
from coordinator.hookspecs import AgencyIdentity, InformationCategory
from coordinator.models import Disclosure, InformationItem, utcnow
from coordinator.plugins import ENTRY_POINT_GROUP, AgencyRegistry, load_agencies
from coordinator.policy import Actor
from coordinator.settings import ReferralThresholds, Settings

ITEMS = 1_000
CONSENTS = 50
EXTRA_AGENCIES = [f"agency_{n}" for n in range(4, 11)]  # with the three installed: ten
VIEWER_AGENCY = "health"
PASSWORD = "bench password 1"

WORDS = ("call-out", "address", "injury", "children", "school", "custody", "order", "threat", "safety", "plan",
         "referral", "visit", "statement", "hospital", "officer", "tenancy", "arrears", "worker", "night", "report")


class ExtraAgency:
    """An agency plugin as a third party would write it: two categories, no tasks."""

    def __init__(self, key: str) -> None:
        self.key = key

    @hookimpl
    def agency_identity(self) -> AgencyIdentity:
        return AgencyIdentity(key=self.key, name=self.key.replace("_", " ").title())

    @hookimpl
    def agency_information_categories(self) -> list[InformationCategory]:
        return [InformationCategory(f"{self.key}.records", "Records"),
                InformationCategory(f"{self.key}.assessments", "Assessments", "high")]

    @hookimpl
    def agency_task_list(self, case) -> list:  # noqa: ANN001
        return []


for _key in EXTRA_AGENCIES:  # entry points name module attributes
    globals()[_key] = ExtraAgency(_key)


def ten_agencies() -> AgencyRegistry:
    extra = [EntryPoint(name=key, value=f"{__name__}:{key}", group=ENTRY_POINT_GROUP) for key in EXTRA_AGENCIES]
    return load_agencies([*entry_points(group=ENTRY_POINT_GROUP), *extra])


async def build_case(sessionmaker, registry: AgencyRegistry, rng: random.Random) -> tuple[int, Actor]:  # noqa: ANN001
    """One case with every agency, ITEMS items and CONSENTS consents; returns it and the viewer."""
    async with sessionmaker() as session:
        users = {key: await accounts.create_user(session, username=f"member.{key}", agency=key, role="member",
                                                 password=PASSWORD, agencies=registry.keys)
                 for key in registry.keys}
        chair = actor_of(await accounts.create_user(session, username="chair", agency=registry.keys[0],
                                                    role="coordinator", password=PASSWORD, agencies=registry.keys))
        case = await cases.create_case(session, registry, ReferralThresholds(), chair, ReferralIn(
            kind="domestic_abuse", people=[PersonIn("survivor", "Nora"), PersonIn("child", "Ella")],
            checklist_score=16, agencies=registry.keys, lead_agency=registry.keys[0]), utcnow().date())
        categories = [key for agency in registry for key in agency.categories]
        recorded = utcnow() - dt.timedelta(days=30)
        rows = []
        for n in range(ITEMS):
            category = rng.choice(categories)
            owner = category.split(".", 1)[0]
            rows.append({"case_id": case.id, "agency": owner, "category": category,
                         "nature": rng.choice(["fact", "opinion"]), "sensitivity": "normal",
                         "recorded_by_id": users[owner].id, "recorded_at": recorded + dt.timedelta(minutes=n),
                         "text": f"Item {n}: " + " ".join(rng.choice(WORDS) for _ in range(30))})
        await session.execute(insert(InformationItem), rows)
        for n in range(CONSENTS):
            consent = await consents.grant_consent(session, registry, chair, case.id, ConsentIn(
                purpose="case conference", method=rng.choice(["written", "verbal"]), given_by="Nora",
                categories=rng.sample(categories, 3), recipients=rng.sample(registry.keys, 3)))
            if n % 5 == 0:  # the survivor has since withdrawn part of some consents
                await consents.withdraw_consent(session, chair, case.id, consent.id,
                                                WithdrawalIn(scope_ids=[consent.scopes[0].id]))
        await session.commit()
        return case.id, actor_of(users[VIEWER_AGENCY])


async def filtered_view(sessionmaker, template, registry: AgencyRegistry, viewer: Actor,  # noqa: ANN001
                        case_id: int) -> str:
    async with sessionmaker() as session:
        items = await gate.visible_items(session, registry, viewer, case_id, channel="page")
        html = template.render(items=items, case_id=case_id, can=policy.Permissions(viewer), actions=True, error=None,
                               form_id="", csrf_input="")
        await session.commit()
    return html


async def bypassed_view(sessionmaker, template, viewer: Actor, case_id: int) -> str:  # noqa: ANN001
    """The same view as if there were no gate: every current item's text, shown as the owner's."""
    async with sessionmaker() as session:
        rows = (await session.execute(
            select(InformationItem.id, InformationItem.lineage_id, InformationItem.category, InformationItem.agency,
                   InformationItem.nature, InformationItem.sensitivity, InformationItem.recorded_at,
                   InformationItem.supersedes_id, InformationItem.superseded, InformationItem.text)
            .where(InformationItem.case_id == case_id, InformationItem.superseded.is_(False))
            .order_by(InformationItem.id)
        )).all()
        shown = gate.Decision(True, gate.OWNER)
        items = [gate.ItemView(id=r.id, lineage_id=r.lineage_id or r.id, category=r.category, agency=r.agency,
                                  nature=r.nature, sensitivity=r.sensitivity, recorded_at=r.recorded_at,
                                  decision=shown, text=r.text, supersedes_id=r.supersedes_id,
                                  superseded=r.superseded) for r in rows]
        html = template.render(items=items, case_id=case_id, can=policy.Permissions(viewer), actions=True, error=None,
                               form_id="", csrf_input="")
        await session.commit()
    return html


async def timed(view) -> float:  # noqa: ANN001
    start = time.perf_counter()
    await view()
    return (time.perf_counter() - start) * 1000


async def run(url: str, repetitions: int) -> float:
    registry = ten_agencies()
    template = create_app(Settings(database_url=url), registry).template_engine.get_template("_items.html")
    engine = db.create_engine(url)
    sessionmaker = db.create_sessionmaker(engine)
    try:
        case_id, viewer = await build_case(sessionmaker, registry, random.Random(7))

        def filtered() -> object:
            return filtered_view(sessionmaker, template, registry, viewer, case_id)

        def bypassed() -> object:
            return bypassed_view(sessionmaker, template, viewer, case_id)

        for _ in range(3):  # warm caches and the connection
            await timed(filtered)
            await timed(bypassed)
        times: dict[str, list[float]] = {"filtered": [], "bypassed": []}
        for n in range(repetitions):  # interleaved, alternating which goes first
            order = ("filtered", "bypassed") if n % 2 == 0 else ("bypassed", "filtered")
            for name in order:
                times[name].append(await timed(filtered if name == "filtered" else bypassed))

        async with sessionmaker() as session:
            items = await gate.visible_items(session, registry, viewer, case_id, channel="page")
            await session.rollback()
            disclosures = (await session.execute(select(func.count()).select_from(Disclosure))).scalar_one()
        visible = sum(1 for item in items if item.decision.visible)
        shared = sum(1 for item in items if item.decision.disclosed)
    finally:
        await engine.dispose()

    print(f"case: {ITEMS} items, {CONSENTS} consents, {len(registry.keys)} agencies; "
          f"{VIEWER_AGENCY} sees {visible} ({shared} of them by consent), {ITEMS - visible} withheld")
    print(f"disclosure rows written during the run: {disclosures}")
    filtered_ms, bypassed_ms = statistics.median(times["filtered"]), statistics.median(times["bypassed"])
    print(f"filtered view (gate, disclosure audit, render): median {filtered_ms:.1f} ms over {repetitions}")
    print(f"bypassed view (all text selected, same render): median {bypassed_ms:.1f} ms over {repetitions}")
    return filtered_ms / bypassed_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'gate.db'}"
        db.migrate(url)
        ratio = asyncio.run(run(url, args.repetitions))
    print(f"gate ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
