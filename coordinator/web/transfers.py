"""Transfer of a case to another MARAC: the export form on the case and the import page, and
their JSON twins, all through ``coordinator.transfers``."""

from __future__ import annotations

import json
from dataclasses import dataclass

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases, policy, transfers
from coordinator.errors import Conflict, Invalid
from coordinator.limits import Text
from coordinator.models import Transfer, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.settings import Settings
from coordinator.transfers import BundleIn, ExportIn
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, from_form
from coordinator.web.json import case_json


@dataclass
class BundleFileIn:
    """The import page's upload: the bundle file exported at the sending MARAC."""

    bundle: Text(transfers.BUNDLE_MAX)


def provenance_json(received: Transfer | None) -> dict | None:
    if received is None:
        return None
    return {"from": received.deployment, "sent_at": received.sent_at.isoformat(), "sent_by": received.sent_by,
            "basis": received.basis, "earlier_references": json.loads(received.earlier_references),
            "consents": json.loads(received.consents), "history": json.loads(received.history),
            "summary_pdf": received.summary_pdf is not None}


def _download(bundle: dict, reference: str) -> Response:
    return Response(json.dumps(bundle, ensure_ascii=False), media_type="application/json", status_code=200,
                    headers={"content-disposition": f'attachment; filename="transfer-{reference}.json"'})


async def _export(request: Request, db: AsyncSession, settings: Settings, case_id: int, data: ExportIn) -> Response:
    case = await cases.case_for(db, current_actor(request), case_id)
    bundle = await transfers.export_case(db, current_actor(request), case_id, data, settings.deployment_name,
                                         utcnow().date())
    await db.commit()
    return _download(bundle, case.reference)


async def _import(request: Request, db: AsyncSession, settings: Settings, bundle: BundleIn):  # noqa: ANN202
    case = await transfers.import_bundle(db, current_actor(request), bundle,
                                         transfers.trusted_senders(settings.transfer_trusted), utcnow().date())
    await db.commit()
    return case


async def _export_form(request: Request, db: AsyncSession, case_id: int, error: Invalid | None = None,
                       values: dict | None = None) -> Template:
    actor = current_actor(request)
    policy.require_transferrer(actor)
    case = await cases.case_for(db, actor, case_id)
    consents, overrides = await transfers.transfer_bases(db, case.id, utcnow())
    return Template("transfer_form.html", status_code=400 if error else 200, context={
        "case": case, "consents": consents, "overrides": overrides, "error": error, "values": values or {}})


@get("/cases/{case_id:int}/transfer")
async def export_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> Template:
    """The transfer form: the MARAC it goes to, and her consent or an approved override as its basis."""
    return await _export_form(request, db, case_id)


@post("/cases/{case_id:int}/transfer", opt={FORM: ExportIn})
async def export_from_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                           case_id: FromPath[int]) -> Response | Template:
    """The signed bundle, as a file to send to the receiving MARAC; the case closes as transferred."""
    form = await request.form()
    try:
        return await _export(request, db, settings, case_id, from_form(ExportIn, form))
    except Invalid as error:
        await db.rollback()
        return await _export_form(request, db, case_id, error, {key: form.get(key) for key in form})


@get("/transfers/import")
async def import_page(request: Request) -> Template:
    policy.require_transferrer(current_actor(request))
    return Template("transfer_import.html", context={"error": None})


@post("/transfers/import", opt={FORM: BundleFileIn})
async def import_from_page(request: Request, db: NamedDependency[AsyncSession],
                           settings: NamedDependency[Settings]) -> Redirect | Template:
    """A bundle uploaded: the new case, or the page again with why the bundle is refused."""
    form = await request.form()
    sent = form.get("bundle")
    try:
        raw = await sent.read() if isinstance(sent, UploadFile) else (sent or "")
        case = await _import(request, db, settings, transfers.bundle_from_text(raw))
    except (Invalid, Conflict) as error:
        await db.rollback()
        return Template("transfer_import.html", status_code=error.status, context={"error": error})
    return Redirect(f"/cases/{case.id}", status_code=303)


@post("/api/cases/{case_id:int}/transfer")
async def export_json(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      case_id: FromPath[int], data: JSONBody[ExportIn]) -> Response:
    """Export the case as a signed bundle (the body) and close it as transferred."""
    return await _export(request, db, settings, case_id, data)


@post("/api/transfers")
async def import_json(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      settings: NamedDependency[Settings], data: JSONBody[BundleIn]) -> dict:
    """Import a bundle from a trusted MARAC as a new case (409 when this bundle was imported before)."""
    case = await _import(request, db, settings, data)
    return {**case_json(await cases.load_case(db, case.id), registry),
            "provenance": provenance_json(await transfers.provenance(db, case.id))}


@get("/cases/{case_id:int}/transfer-summary.pdf")
async def summary_pdf_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> Response:
    """The sending coordinator's PDF summary that came with this imported case."""
    pdf = await transfers.received_summary(db, current_actor(request), case_id)
    await db.commit()
    return Response(pdf, media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="transfer-summary-{case_id}.pdf"'})


PAGES = [export_page, export_from_page, import_page, import_from_page, summary_pdf_page]
API = [export_json, import_json]
