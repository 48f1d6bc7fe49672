"""Pages and JSON API for information items, consent, overrides, "who has seen this survivor's
information" and the case export. Every item shown goes through the consent gate, and every view
that shows items commits the disclosures the gate wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Annotated

from litestar import Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases, consents, disclosures, gate, information, overrides, policy, tasks
from coordinator.consents import ConsentIn, WithdrawalIn
from coordinator.errors import DomainError, Invalid
from coordinator.information import CorrectionIn, ItemIn
from coordinator.limits import OneOf
from coordinator.models import Case, Consent, Override, utcnow
from coordinator.overrides import OverrideDecisionIn, OverrideIn, SurvivorNoticeIn
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, checked, from_form, text
from coordinator.web.json import case_json, consent_json, disclosures_json, item_json, override_json, task_json
from coordinator.web.sections import workspace
from coordinator.web.sections.items import CHOICES
from coordinator.web.sections.section import Change, submit

NO_VALUES = FormMultiDict()


# --- forms -----------------------------------------------------------------------------------

def _day_start(day: dt.date | None, zone: dt.tzinfo) -> dt.datetime | None:
    """A date typed on a form begins at local midnight."""
    return None if day is None else dt.datetime.combine(day, dt.time(), zone)


def _day_end(day: dt.date | None, zone: dt.tzinfo) -> dt.datetime | None:
    """A date typed as an expiry holds through that whole local day."""
    return None if day is None else dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)


def _zone(request: Request) -> dt.tzinfo:
    return request.app.state.settings.zone


def item_from_form(form: FormMultiDict) -> ItemIn:
    return checked(ItemIn(category=text(form, "category"), nature=text(form, "nature"), text=text(form, "text"),
                          sensitivity=text(form, "sensitivity") or None))


def correction_from_form(form: FormMultiDict) -> CorrectionIn:
    return checked(CorrectionIn(text=text(form, "text"), nature=text(form, "nature") or None,
                                sensitivity=text(form, "sensitivity") or None))


# The forms ask for days where the API takes times, and for "yes" or "no" where it takes a boolean:
# each is read into its own dataclass (documented as such), then into the API's input.

@dataclass
class ConsentForm(ConsentIn):
    given_at: dt.date | None = None  # from local midnight
    expires_at: dt.date | None = None  # through that whole local day


@dataclass
class OverrideForm(OverrideIn):
    expires_at: Annotated[dt.date, Meta(description="an override needs an expiry date")]  # through that day


@dataclass
class NoticeForm(SurvivorNoticeIn):
    informed: OneOf(("yes", "no"), "say whether the survivor was told")
    informed_at: dt.date | None = None


def consent_from_form(form: FormMultiDict, zone: dt.tzinfo) -> ConsentIn:
    read = from_form(ConsentForm, form)
    return checked(ConsentIn(**{**asdict(read), "given_at": _day_start(read.given_at, zone),
                                "expires_at": _day_end(read.expires_at, zone)}))


@dataclass
class WithdrawalForm(WithdrawalIn):
    """The form ticks the scopes to withdraw, or "the whole consent" (``whole=yes``)."""

    whole: OneOf(("yes", "")) = ""


def withdrawal_from_form(form: FormMultiDict) -> WithdrawalIn:
    read = from_form(WithdrawalForm, form)
    if read.whole != "yes" and not read.scope_ids:
        raise Invalid("tick the parts of the consent to withdraw, or withdraw all of it", field="scope_ids")
    return checked(WithdrawalIn(scope_ids=[] if read.whole == "yes" else read.scope_ids, note=read.note))


def override_from_form(form: FormMultiDict, zone: dt.tzinfo) -> OverrideIn:
    read = from_form(OverrideForm, form)
    return checked(OverrideIn(**{**asdict(read), "expires_at": _day_end(read.expires_at, zone)}))


def decision_from_form(form: FormMultiDict) -> OverrideDecisionIn:
    return checked(OverrideDecisionIn(decision=text(form, "decision"), note=text(form, "note")))


def notice_from_form(form: FormMultiDict, zone: dt.tzinfo) -> SurvivorNoticeIn:
    read = from_form(NoticeForm, form)
    return checked(SurvivorNoticeIn(informed=read.informed == "yes", informed_at=_day_start(read.informed_at, zone),
                                    reason=read.reason or None))


Page = Callable[..., Awaitable[Template]]


async def _submit(request: Request, db: AsyncSession, registry: AgencyRegistry, case_id: int, page: Page, *,
                  form_id: str, success: str, change: Change) -> Template | Redirect:
    """A sharing page's form: through the one submit loop, refused back to ``page``."""

    async def refused(error: DomainError, failed: str, values: FormMultiDict) -> Template:
        return await page(db, registry, current_actor(request), case_id, error=error, form_id=failed, values=values)

    return await submit(request, db, form_id=form_id, change=change, success=success, refused=refused)


def _typed(values: FormMultiDict, form_id: str, create_form: str) -> FormMultiDict:
    """What was typed, to fill the page's form for new records again; the forms on existing
    records start afresh."""
    return values if form_id == create_form else NO_VALUES


def _rendered(name: str, error: DomainError | None, context: dict) -> Template:
    return Template(name, status_code=error.status if error else 200, context={"error": error, **context})


# --- the case page's information section and the items page --------------------------------

@post("/cases/{case_id:int}/items", opt={FORM: ItemIn})
async def record_item_page(request: Request, db: NamedDependency[AsyncSession],
                           registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> Template | Redirect:
    return await workspace.submit_to_section(
        request, db, case_id, section="items", form_id="record",
        change=lambda form, actor: information.record_item(db, registry, actor, case_id, item_from_form(form)))


@post("/cases/{case_id:int}/items/{item_id:int}/corrections", opt={FORM: CorrectionIn})
async def correct_item_page(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                            item_id: FromPath[int]) -> Template | Redirect:
    return await workspace.submit_to_section(
        request, db, case_id, section="items", form_id=f"correct-{item_id}",
        change=lambda form, actor: information.correct_item(db, registry, actor, case_id, item_id,
                                                            correction_from_form(form)))


@get("/cases/{case_id:int}/items/{item_id:int}/history")
async def item_history_page(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                            item_id: FromPath[int]) -> Template:
    actor = current_actor(request)
    versions = await information.item_history(db, registry, actor, case_id, item_id, channel="page")
    await db.commit()
    case = await cases.case_for(db, actor, case_id)
    return Template("item_history.html", context={"case": case, "actor": actor, "versions": versions,
                                                  "can": policy.Permissions(actor)})


# --- consent ---------------------------------------------------------------------------------

async def _consents_page(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int, *,
                         error: DomainError | None = None, form_id: str = "",
                         values: FormMultiDict = NO_VALUES) -> Template:
    case = await cases.case_for(db, actor, case_id)
    records = await consents.case_consents(db, actor, case.id)
    withdrawals = await consents.withdrawals_by_consent(db, [c.id for c in records])
    people = {c.recorded_by_id for c in records} | {w.recorded_by_id for ws in withdrawals.values() for w in ws}
    return _rendered("consents.html", error, {
        "case": case, "actor": actor, "consents": records, "withdrawals": withdrawals, "now": utcnow(),
        "names": await consents.display_names(db, people), "scope_status": consents.scope_status,
        "can_change": policy.is_case_worker(actor, case), "choices": CHOICES, "form_id": form_id,
        "values": _typed(values, form_id, "grant"),
        "survivor": next((p.name for p in case.people if p.role == "survivor"), ""),
    })


@get("/cases/{case_id:int}/consents")
async def consents_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        case_id: FromPath[int]) -> Template:
    return await _consents_page(db, registry, current_actor(request), case_id)


@post("/cases/{case_id:int}/consents", opt={FORM: ConsentForm})
async def grant_consent_page(request: Request, db: NamedDependency[AsyncSession],
                             registry: NamedDependency[AgencyRegistry], case_id: FromPath[int]) -> Template | Redirect:
    return await _submit(
        request, db, registry, case_id, _consents_page, form_id="grant",
        success=f"/cases/{case_id}/consents",
        change=lambda form, actor: consents.grant_consent(db, registry, actor, case_id,
                                                          consent_from_form(form, _zone(request))))


@post("/cases/{case_id:int}/consents/{consent_id:int}/withdrawals", opt={FORM: WithdrawalForm})
async def withdraw_consent_page(request: Request, db: NamedDependency[AsyncSession],
                                registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                                consent_id: FromPath[int]) -> Template | Redirect:
    return await _submit(
        request, db, registry, case_id, _consents_page, form_id=f"withdraw-{consent_id}",
        success=f"/cases/{case_id}/consents#consent-{consent_id}",
        change=lambda form, actor: consents.withdraw_consent(db, actor, case_id, consent_id,
                                                             withdrawal_from_form(form)))


# --- overrides -------------------------------------------------------------------------------

async def _overrides_page(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int, *,
                          error: DomainError | None = None, form_id: str = "",
                          values: FormMultiDict = NO_VALUES) -> Template:
    case = await cases.case_for(db, actor, case_id)
    records = await overrides.case_overrides(db, actor, case.id)
    people = {o.requested_by_id for o in records} | {o.decided_by_id for o in records}
    return _rendered("overrides.html", error, {
        "case": case, "actor": actor, "overrides": records, "now": utcnow(),
        "names": await consents.display_names(db, people), "override_status": overrides.override_status,
        "can": policy.Permissions(actor),
        "choices": CHOICES, "form_id": form_id, "values": _typed(values, form_id, "request"),
    })


@get("/cases/{case_id:int}/overrides")
async def overrides_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                         case_id: FromPath[int]) -> Template:
    return await _overrides_page(db, registry, current_actor(request), case_id)


@post("/cases/{case_id:int}/overrides", opt={FORM: OverrideForm})
async def request_override_page(request: Request, db: NamedDependency[AsyncSession],
                                registry: NamedDependency[AgencyRegistry],
                                case_id: FromPath[int]) -> Template | Redirect:
    return await _submit(
        request, db, registry, case_id, _overrides_page, form_id="request",
        success=f"/cases/{case_id}/overrides",
        change=lambda form, actor: overrides.request_override(db, registry, actor, case_id,
                                                              override_from_form(form, _zone(request))))


@post("/cases/{case_id:int}/overrides/{override_id:int}/decision", opt={FORM: OverrideDecisionIn})
async def decide_override_page(request: Request, db: NamedDependency[AsyncSession],
                               registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                               override_id: FromPath[int]) -> Template | Redirect:
    return await _submit(
        request, db, registry, case_id, _overrides_page, form_id=f"decide-{override_id}",
        success=f"/cases/{case_id}/overrides#override-{override_id}",
        change=lambda form, actor: overrides.decide_override(db, actor, case_id, override_id, decision_from_form(form)))


@post("/cases/{case_id:int}/overrides/{override_id:int}/survivor-notice", opt={FORM: NoticeForm})
async def survivor_notice_page(request: Request, db: NamedDependency[AsyncSession],
                               registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                               override_id: FromPath[int]) -> Template | Redirect:
    return await _submit(
        request, db, registry, case_id, _overrides_page, form_id=f"notice-{override_id}",
        success=f"/cases/{case_id}/overrides#override-{override_id}",
        change=lambda form, actor: overrides.record_survivor_notice(db, actor, case_id, override_id,
                                                                   notice_from_form(form, _zone(request))))


# --- who has seen it, and the export ---------------------------------------------------------

@get("/cases/{case_id:int}/disclosures")
async def disclosures_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> Template:
    actor = current_actor(request)
    report = await disclosures.disclosure_report(db, actor, case_id)
    return Template("disclosures.html", context={"case": await cases.case_for(db, actor, case_id), "report": report})


async def _export(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int) -> tuple[Case, list, list]:
    case = await cases.case_for(db, actor, case_id)
    items = await gate.visible_items(db, registry, actor, case.id, channel="export")
    await db.commit()
    return case, items, await tasks.case_tasks(db, case.id, utcnow().date())


@get("/cases/{case_id:int}/export.html")
async def export_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      case_id: FromPath[int]) -> Template:
    actor = current_actor(request)
    case, items, case_tasks = await _export(db, registry, actor, case_id)
    return Template("export.html", context={"case": case, "actor": actor, "items": items, "tasks": case_tasks,
                                            "can": policy.Permissions(actor),
                                            "today": utcnow().date(), "exported_at": utcnow()})


# --- JSON API --------------------------------------------------------------------------------

async def _item_json(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int, item_id: int) -> dict:
    [view] = await gate.visible_items(db, registry, actor, case_id, channel="api", item_ids=[item_id],
                                         include_superseded=True)
    await db.commit()
    return item_json(view, registry)


@get("/api/cases/{case_id:int}/items")
async def list_items(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     case_id: FromPath[int]) -> list[dict]:
    views = await information.case_items(db, registry, current_actor(request), case_id, channel="api")
    await db.commit()
    return [item_json(v, registry) for v in views]


@post("/api/cases/{case_id:int}/items")
async def record_item(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      case_id: FromPath[int], data: JSONBody[ItemIn]) -> dict:
    actor = current_actor(request)
    item = await information.record_item(db, registry, actor, case_id, data)
    await db.commit()
    return await _item_json(db, registry, actor, case_id, item.id)


@get("/api/cases/{case_id:int}/items/{item_id:int}/history")
async def item_history(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       case_id: FromPath[int], item_id: FromPath[int]) -> list[dict]:
    views = await information.item_history(db, registry, current_actor(request), case_id, item_id, channel="api")
    await db.commit()
    return [item_json(v, registry) for v in views]


@post("/api/cases/{case_id:int}/items/{item_id:int}/corrections")
async def correct_item(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       case_id: FromPath[int], item_id: FromPath[int], data: JSONBody[CorrectionIn]) -> dict:
    actor = current_actor(request)
    item = await information.correct_item(db, registry, actor, case_id, item_id, data)
    await db.commit()
    return await _item_json(db, registry, actor, case_id, item.id)


@get("/api/cases/{case_id:int}/consents")
async def list_consents(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> list[dict]:
    now = utcnow()
    return [consent_json(c, now) for c in await consents.case_consents(db, current_actor(request), case_id)]


async def _committed_consent(db: AsyncSession, consent: Consent) -> dict:
    await db.commit()
    return consent_json(consent, utcnow())


@post("/api/cases/{case_id:int}/consents")
async def grant_consent(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        case_id: FromPath[int], data: JSONBody[ConsentIn]) -> dict:
    consent = await consents.grant_consent(db, registry, current_actor(request), case_id, data)
    return await _committed_consent(db, consent)


@post("/api/cases/{case_id:int}/consents/{consent_id:int}/withdrawals")
async def withdraw_consent(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                           consent_id: FromPath[int], data: JSONBody[WithdrawalIn]) -> dict:
    consent = await consents.withdraw_consent(db, current_actor(request), case_id, consent_id, data)
    return await _committed_consent(db, consent)


@get("/api/cases/{case_id:int}/overrides")
async def list_overrides(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> list[dict]:
    now = utcnow()
    return [override_json(o, now) for o in await overrides.case_overrides(db, current_actor(request), case_id)]


async def _committed_override(db: AsyncSession, override: Override) -> dict:
    await db.commit()
    return override_json(override, utcnow())


@post("/api/cases/{case_id:int}/overrides")
async def request_override(request: Request, db: NamedDependency[AsyncSession],
                           registry: NamedDependency[AgencyRegistry], case_id: FromPath[int],
                           data: JSONBody[OverrideIn]) -> dict:
    override = await overrides.request_override(db, registry, current_actor(request), case_id, data)
    return await _committed_override(db, override)


@post("/api/cases/{case_id:int}/overrides/{override_id:int}/decision")
async def decide_override(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                          override_id: FromPath[int], data: JSONBody[OverrideDecisionIn]) -> dict:
    override = await overrides.decide_override(db, current_actor(request), case_id, override_id, data)
    return await _committed_override(db, override)


@post("/api/cases/{case_id:int}/overrides/{override_id:int}/survivor-notice")
async def survivor_notice(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                          override_id: FromPath[int], data: JSONBody[SurvivorNoticeIn]) -> dict:
    override = await overrides.record_survivor_notice(db, current_actor(request), case_id, override_id, data)
    return await _committed_override(db, override)


@get("/api/cases/{case_id:int}/disclosures")
async def list_disclosures(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> list[dict]:
    return disclosures_json(await disclosures.disclosure_report(db, current_actor(request), case_id))


@get("/api/cases/{case_id:int}/export")
async def export_case(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      case_id: FromPath[int]) -> dict:
    case, items, case_tasks = await _export(db, registry, current_actor(request), case_id)
    today = utcnow().date()
    return {"case": case_json(case, registry), "exported_at": utcnow(),
            "items": [item_json(v, registry) for v in items],
            "tasks": [task_json(t, registry, today) for t in case_tasks]}


PAGES = [record_item_page, correct_item_page, item_history_page, consents_page, grant_consent_page,
         withdraw_consent_page, overrides_page, request_override_page, decide_override_page, survivor_notice_page,
         disclosures_page, export_page]
API = [list_items, record_item, item_history, correct_item, list_consents, grant_consent, withdraw_consent,
       list_overrides, request_override, decide_override, survivor_notice, list_disclosures, export_case]
