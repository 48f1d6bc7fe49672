"""Mandatory reporting (GBV case management: always tell her of the duty to report, and report
what must be reported). The referral form records who explained the duty to her and when; each
report made under a duty is recorded on the case (to whom, on which day, under which duty),
appended and audited, never edited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, policy
from coordinator.errors import Invalid
from coordinator.limits import WrittenLine
from coordinator.models import MandatoryReport
from coordinator.policy import Actor


@dataclass
class MandatoryReportIn:
    to_whom: WrittenLine(200, "say to whom the report was made")
    made_on: Annotated[dt.date, Meta(description="give the day the report was made")]
    duty: WrittenLine(200, "say under which duty the report was made")


def _written(value: str, name: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise Invalid(f"say {what}", field=name)
    return value


async def record_report(session: AsyncSession, actor: Actor, case_id: int, data: MandatoryReportIn,
                        today: dt.date) -> MandatoryReport:
    case = await cases.case_for(session, actor, case_id)
    policy.require_mandatory_reporter(actor, case, cases.agencies_of(case))
    to_whom = _written(data.to_whom, "to_whom", "to whom the report was made")
    duty = _written(data.duty, "duty", "under which duty the report was made")
    if data.made_on > today:
        raise Invalid("a report cannot be made in the future", field="made_on")
    if data.made_on < case.created_at.date():
        raise Invalid("record here the reports made since the referral", field="made_on")
    report = MandatoryReport(case_id=case.id, to_whom=to_whom, made_on=data.made_on, duty=duty,
                             recorded_by_id=actor.id)
    session.add(report)
    await session.flush()
    # The audit names the report, never its words: the log is read outside the case.
    await audit.record(session, actor, "mandatory_report.recorded", case_id=case.id,
                       subject=f"mandatory_report:{report.id}", made_on=data.made_on)
    events.case_changed(session, case.id, "case")
    return report


async def case_reports(session: AsyncSession, case_id: int) -> list[MandatoryReport]:
    """The reports made on a case, the latest first (the caller has checked the case is visible)."""
    return list((await session.execute(select(MandatoryReport).where(MandatoryReport.case_id == case_id)
                                       .order_by(MandatoryReport.made_on.desc(), MandatoryReport.id.desc()))).scalars())
