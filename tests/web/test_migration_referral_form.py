"""Upgrading a database holding a case from revision 0008: the case, referred with a typed score
before the referral form existed, stays readable, with no duty explanation, equality answers or
mandatory reports made up for it."""

import asyncio
import datetime as dt

from alembic import command
from sqlalchemy import func, select

from coordinator import cases, db
from coordinator.models import EqualityAnswers, MandatoryReport
from tests.databases import CHAIR_USER, database_at, execute


async def _read(url: str) -> tuple:
    engine = db.create_engine(url)
    try:
        async with db.create_sessionmaker(engine)() as session:
            case = await cases.load_case(session, 1)
            answers = (await session.execute(select(func.count()).select_from(EqualityAnswers))).scalar()
            reports = (await session.execute(select(func.count()).select_from(MandatoryReport))).scalar()
            return (case.reference, case.checklist_score, [p.name for p in case.people], case.duty_explained_by,
                    case.duty_explained_on, answers, reports)
    finally:
        await engine.dispose()


def test_a_case_referred_before_the_form_stays_readable(migrated_template, tmp_path):
    with database_at("0008", tmp_path) as url:
        at = dt.datetime(2026, 1, 2, 3, 4, 5)
        asyncio.run(execute(url, CHAIR_USER, at=at))
        asyncio.run(execute(
            url,
            "INSERT INTO cases (id, reference, kind, stage, risk_level, checklist_score, incidents_last_12_months, "
            "referral_grounds, summary, concern, created_by_id, created_at, version) VALUES (1, 'C-2026-0001', "
            "'domestic_abuse', 'referral', 'high', 16, 0, 'checklist', '', '', 1, :at, 1)",
            "INSERT INTO case_people (id, case_id, role, name) VALUES (1, 1, 'survivor', 'Norah Smith')", at=at))
        command.upgrade(db.alembic_config(url), "head")
        assert asyncio.run(_read(url)) == ("C-2026-0001", 16, ["Norah Smith"], "", None, 0, 0)
