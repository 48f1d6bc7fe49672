"""What finding an earlier case costs: a name search and the intake check over 100,000 people on
40,000 cases (generated), against a bare indexed lookup (a case by its reference) in the same run.

    python bench/search.py [--database-url postgresql+asyncpg://…] [--people 100000] [--cases 40000]
                           [--repetitions 200]

Builds a throw-away database (SQLite in a temporary directory by default; a PostgreSQL URL must name
an empty database), fills it with generated names (syllables, so that names share sounds as real
ones do) and dates of birth, then measures interleaved: ``search.find`` for a misspelt full name,
``case_links.candidates`` for a referral of two people, and the bare lookup. Prints p50 and p99 of
each and the ratios to the bare lookup. Not run by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select, text

from coordinator import case_links, db, search
from coordinator.models import Case, CasePerson, PersonNameKey, User, utcnow
from coordinator.names import sound_keys

SYLLABLES = ["no", "ra", "smi", "th", "ma", "rk", "jo", "nes", "el", "la", "le", "o", "pa", "tel", "pri", "ya",
             "ha", "dad", "ami", "ka", "rl", "bra", "ndt", "sa", "li", "me", "ro", "ve", "tan", "gu"]


def made_up_name(rng: random.Random) -> str:
    def part() -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    return f"{part()} {part()}"


async def fill(sessionmaker, people: int, cases: int, rng: random.Random) -> list[str]:
    async with sessionmaker() as session:
        session.add(User(id=1, username="bench", display_name="Bench", agency="police", role="coordinator",
                         password_hash="x"))
        await session.flush()
        now = utcnow()
        await session.execute(insert(Case), [
            {"id": n, "reference": f"C-2026-{n:05d}", "kind": "domestic_abuse", "risk_level": "high",
             "created_by_id": 1, "created_at": now} for n in range(1, cases + 1)])
        names = [made_up_name(rng) for _ in range(people)]
        rows = [{"id": n, "case_id": rng.randint(1, cases), "role": rng.choice(["survivor", "subject", "child"]),
                 "name": name, "born_on": dt.date(1960, 1, 1) + dt.timedelta(days=rng.randint(0, 20_000))}
                for n, name in enumerate(names, start=1)]
        for start in range(0, len(rows), 5_000):
            chunk = rows[start:start + 5_000]
            await session.execute(insert(CasePerson), chunk)
            await session.execute(insert(PersonNameKey), [
                {"person_id": r["id"], "case_id": r["case_id"], "key": key} for r in chunk for key in sound_keys(r["name"])])
        await session.commit()
    return names


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def measure(url: str, args: argparse.Namespace) -> None:
    rng = random.Random(7)
    engine = db.create_engine(url)
    sessionmaker = db.create_sessionmaker(engine)
    started = time.perf_counter()
    names = await fill(sessionmaker, args.people, args.cases, rng)
    print(f"filled {args.people} people on {args.cases} cases in {time.perf_counter() - started:.1f} s")
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    timings: dict[str, list[float]] = {"bare lookup": [], "name search": [], "intake check": []}
    async with sessionmaker() as session:
        for _ in range(args.repetitions):
            wanted = rng.choice(names)
            misspelt = wanted.replace("th", "t").replace("o", "oh", 1)  # a slip the sounds survive
            reference = f"C-2026-{rng.randint(1, args.cases):05d}"
            referred = [case_links.Person("survivor", misspelt, None),
                        case_links.Person("subject", rng.choice(names), dt.date(1980, 5, 17))]
            for label, run in (("bare lookup", lambda: session.execute(select(Case.id).where(Case.reference == reference))),
                               ("name search", lambda: search.find(session, search.parse(misspelt))),
                               ("intake check", lambda: case_links.candidates(session, referred))):
                began = time.perf_counter()
                await run()
                timings[label].append((time.perf_counter() - began) * 1000)
    await engine.dispose()
    floor = quantiles(timings["bare lookup"])
    for label, samples in timings.items():
        p50, p99 = quantiles(samples)
        print(f"{engine.dialect.name} {label}: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
              f"(p99 {p99 / floor[1]:.1f}x the bare lookup)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=40_000)
    parser.add_argument("--repetitions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'search.db'}"
        db.migrate(url)  # runs its own event loop
        asyncio.run(measure(url, args))


if __name__ == "__main__":
    main()
