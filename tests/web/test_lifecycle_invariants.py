"""The lifecycle's "at most one" rules are the database's, so they hold when two requests pass
the services' checks at once (the two-process races in tests/live/test_races.py fire them):
here the rows are written past the services, as a twin request would."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from coordinator.models import Closure, Referral

TODAY = dt.date.today()


async def _write_twice(sessionmaker, make) -> None:
    async with sessionmaker() as session:
        session.add(make())
        await session.commit()
        session.add(make())
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_the_database_keeps_one_pending_closure_per_case(sessionmaker, people, case):
    def pending() -> Closure:
        return Closure(case_id=case["id"], criterion="needs_met", closing_on=TODAY, reasons="safe",
                       requested_by_id=people["chair"].id)
    await _write_twice(sessionmaker, pending)
    async with sessionmaker() as session:  # a decided request leaves room for the next
        session.add(Closure(case_id=case["id"], criterion="needs_met", closing_on=TODAY, reasons="safe",
                            requested_by_id=people["chair"].id, status="refused"))
        await session.commit()


async def test_the_database_keeps_one_open_referral_per_case_and_agency(sessionmaker, people, case):
    def draft() -> Referral:
        return Referral(case_id=case["id"], to_agency="housing", purpose="a home", created_by_id=people["chair"].id)
    await _write_twice(sessionmaker, draft)
    async with sessionmaker() as session:  # a declined one does not count
        session.add(Referral(case_id=case["id"], to_agency="housing", purpose="a home", status="declined",
                             created_by_id=people["chair"].id))
        await session.commit()
