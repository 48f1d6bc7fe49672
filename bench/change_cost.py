"""What one live change costs the server, in process, with no clients: SQL statements and CPU time
for the change itself (the live page's action-status change, committed) and for the state read a
room makes to show it (the aspects an action change moves). CPU time, unlike latency, barely
moves with other work on the machine, so this compares two versions on a busy machine too.

Usage: python bench/change_cost.py [--participants 20 --conferences 20 --changes 100 --reads 200]
Prints:  change_cost statements=<n> cpu_ms=<x>  /  state_read statements=<n> cpu_ms=<y>
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from fanout import ACTIONS, create_conferences, fresh_database  # bench/, beside this file
from sqlalchemy import event, select

from coordinator import db
from coordinator.accounts import actor_of
from coordinator.conference import actions
from coordinator.conference.state import load_state
from coordinator.models import User
from coordinator.plugins import load_agencies

MOVED = frozenset({"actions", "agenda"})  # what a task's change shows on a live page


async def measure(url: str, participants: int, conferences: int, changes: int, reads: int) -> list[str]:
    planned = await create_conferences(url, participants, conferences)
    engine = db.create_engine(url)
    sessionmaker = db.create_sessionmaker(engine)
    registry = load_agencies()
    sent = [0]
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *_: sent.__setitem__(0, sent[0] + 1))
    conference = planned[len(planned) // 2]
    async with sessionmaker() as session:
        chair = actor_of((await session.execute(
            select(User).where(User.username == conference.usernames[0]))).scalar_one())

    async def read() -> None:
        async with sessionmaker() as session:
            await load_state(session, registry, conference.id, MOVED)
            await session.commit()

    async def change(number: int) -> None:
        async with sessionmaker() as session:
            await actions.change_action(session, registry, chair, conference.id, actions.ActionStatusIn(
                task_id=conference.action_ids[number % ACTIONS], status="blocked", version=number // ACTIONS + 1,
                reason=f"Change #{number:06d}"))
            await session.commit()

    async def cost(name: str, work, times: int) -> str:  # noqa: ANN001
        sent[0], started = 0, time.process_time()
        for number in range(times):
            await work(number)
        return f"{name} statements={sent[0] / times:.1f} cpu_ms={1000 * (time.process_time() - started) / times:.2f}"

    try:
        for _ in range(5):  # warm the statement caches
            await read()
        return [await cost("change_cost", change, changes), await cost("state_read", lambda _: read(), reads)]
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--conferences", type=int, default=20)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="change-cost-") as folder:
        url = fresh_database(None, Path(folder), "cost")
        lines = asyncio.run(measure(url, args.participants, args.conferences, args.changes, args.reads))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
