"""Mandatory reporting on a case: the page's form and the API."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases
from coordinator.lifecycle import mandatory_reports
from coordinator.lifecycle.mandatory_reports import MandatoryReportIn
from coordinator.models import MandatoryReport, utcnow
from coordinator.settings import Settings
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, from_form
from coordinator.web.sections.workspace import submit_to_section


def report_json(report: MandatoryReport) -> dict:
    return {"id": report.id, "case_id": report.case_id, "to_whom": report.to_whom,
            "made_on": report.made_on.isoformat(), "duty": report.duty, "recorded_by_id": report.recorded_by_id,
            "recorded_at": report.recorded_at.isoformat()}


def _today(settings: Settings):  # noqa: ANN202
    return utcnow().astimezone(settings.zone).date()


@post("/cases/{case_id:int}/mandatory-reports", opt={FORM: MandatoryReportIn})
async def report_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      case_id: FromPath[int]) -> Response:
    return await submit_to_section(
        request, db, case_id, section="mandatory-reports", form_id="mandatory-report", change=lambda form, actor: (
            mandatory_reports.record_report(db, actor, case_id, from_form(MandatoryReportIn, form), _today(settings))))


@get("/api/cases/{case_id:int}/mandatory-reports")
async def list_reports(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> list[dict]:
    case = await cases.case_for(db, current_actor(request), case_id)
    return [report_json(r) for r in await mandatory_reports.case_reports(db, case.id)]


@post("/api/cases/{case_id:int}/mandatory-reports")
async def record_report(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                        case_id: FromPath[int], data: JSONBody[MandatoryReportIn]) -> dict:
    report = await mandatory_reports.record_report(db, current_actor(request), case_id, data, _today(settings))
    await db.commit()
    return report_json(report)


ROUTES = [report_page, list_reports, record_report]
