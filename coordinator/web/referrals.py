"""Referrals to services, the service directory and the survivor's feedback survey, as page forms
and their JSON twins; the case page's and the dashboard's sections."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Response, Template
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases, policy
from coordinator.lifecycle import feedback, referrals
from coordinator.lifecycle.feedback import SurveyIn
from coordinator.lifecycle.referrals import ReferralIn, ReferralNoteIn, ReferralStatusIn, ServiceIn
from coordinator.models import Case, Referral, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import Settings
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, ROWS, from_form, optional_int, text
from coordinator.web.json import feedback_report_json, incoming_referral_json, referral_json, service_json, survey_json
from coordinator.web.sections.workspace import section_url, submit_to_section


def _questions(settings: Settings) -> list[str]:
    return feedback.questions(settings.survey_questions_file)


def _last_ended_quarter() -> str:
    return feedback.last_ended_quarter(utcnow().date())


# --- the case page's and the dashboard's sections ---------------------------------------------------

async def dashboard_context(db: AsyncSession, actor: Actor) -> dict:
    """Referrals sent to the person's agency, awaiting its answer or its outcome."""
    return {"incoming_referrals": await referrals.incoming(db, actor)}


# --- forms ------------------------------------------------------------------------------------------

def referral_from_form(form: FormMultiDict) -> ReferralIn:
    """The form's one choice of recipient (``to``: ``agency:<key>`` or ``service:<id>``) and her consent."""
    kind, _, key = text(form, "to").partition(":")
    service_id = optional_int(FormMultiDict({"to": key}), "to") if kind == "service" else None
    return from_form(ReferralIn, form, to_agency=key if kind == "agency" and key else None, service_id=service_id)


# The recipient is one choice among agencies and services, sent as ``to``.
REFERRAL_ROWS = {"to_agency": {"^to$": Annotated[str, Meta(pattern=r"^(agency:[a-z][a-z0-9_]*|service:[1-9][0-9]*)$")]},
                 "service_id": {}}


def survey_from_form(form: FormMultiDict, count: int) -> SurveyIn:
    return from_form(SurveyIn, form, answers=[text(form, f"answer_{i}") for i in range(count)])


SURVEY_ROWS = {"answers": {"^answer_[0-9]+$": feedback.Answer}}


def _to_case(case_id: int) -> Redirect:
    return Redirect(section_url(case_id, "referrals"), status_code=303)


async def _after_change(db: AsyncSession, actor: Actor, referral: Referral) -> Redirect:
    """Back to the case if the actor sees it (an agency that accepted is on it now), else the dashboard."""
    if policy.may_see_case(actor, await cases.agencies_on(db, referral.case_id)):
        return _to_case(referral.case_id)
    return Redirect("/", status_code=303)


# --- the service directory -------------------------------------------------------------------------

async def _add_service(db: AsyncSession, request: Request, data: ServiceIn):  # noqa: ANN202
    service = await referrals.add_service(db, current_actor(request), data)
    await db.commit()
    return service


async def _deactivate(db: AsyncSession, request: Request, service_id: int):  # noqa: ANN202
    service = await referrals.deactivate_service(db, current_actor(request), service_id)
    await db.commit()
    return service


@get("/referrals")
async def incoming_page(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    """Referrals sent to the person's agency, on a page of their own."""
    return Template("referrals.html", context=await dashboard_context(db, current_actor(request)))


@get("/directory")
async def directory_page(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    actor = current_actor(request)
    can = policy.Permissions(actor)
    services = await referrals.directory(db, inactive=can.keep_directory)
    return Template("directory.html", context={"services": services, "can": can})


@post("/directory", opt={FORM: ServiceIn})
async def add_service_page(request: Request, db: NamedDependency[AsyncSession]) -> Redirect:
    await _add_service(db, request, from_form(ServiceIn, await request.form()))
    return Redirect("/directory", status_code=303)


@post("/directory/{service_id:int}/deactivate")
async def deactivate_service_page(request: Request, db: NamedDependency[AsyncSession],
                                  service_id: FromPath[int]) -> Redirect:
    await _deactivate(db, request, service_id)
    return Redirect("/directory", status_code=303)


@get("/api/services")
async def list_services(request: Request, db: NamedDependency[AsyncSession]) -> list[dict]:
    """The service directory: the administrators' entries and those the agencies' plugins contribute."""
    services = await referrals.directory(db, inactive=policy.may_keep_directory(current_actor(request)))
    return [service_json(s) for s in services]


@post("/api/services")
async def add_service(request: Request, db: NamedDependency[AsyncSession], data: JSONBody[ServiceIn]) -> dict:
    return service_json(await _add_service(db, request, data))


@post("/api/services/{service_id:int}/deactivate")
async def deactivate_service(request: Request, db: NamedDependency[AsyncSession], service_id: FromPath[int]) -> dict:
    return service_json(await _deactivate(db, request, service_id))


# --- referrals -------------------------------------------------------------------------------------

async def _refer(db: AsyncSession, registry: AgencyRegistry, request: Request, case_id: int,
                 data: ReferralIn) -> Referral:
    referral = await referrals.create_referral(db, registry, current_actor(request), case_id, data)
    await db.commit()
    return referral


async def _move(db: AsyncSession, registry: AgencyRegistry, request: Request, referral_id: int,
                data: ReferralStatusIn) -> Referral:
    referral = await referrals.change_status(db, registry, current_actor(request), referral_id, data)
    await db.commit()
    return referral


async def _note(db: AsyncSession, request: Request, referral_id: int, data: ReferralNoteIn) -> Referral:
    referral = await referrals.add_note(db, current_actor(request), referral_id, data)
    await db.commit()
    return referral


async def _json(db: AsyncSession, registry: AgencyRegistry, referral: Referral) -> dict:
    services = await referrals.services_by_id(db, {referral.service_id})
    return referral_json(referral, registry, services.get(referral.service_id))


@post("/cases/{case_id:int}/referrals", opt={FORM: ReferralIn, ROWS: REFERRAL_ROWS})
async def refer_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     case_id: FromPath[int]) -> Response:
    return await submit_to_section(request, db, case_id, section="referrals", form_id="refer", change=lambda form, actor: (
        referrals.create_referral(db, registry, actor, case_id, referral_from_form(form))))


@post("/referrals/{referral_id:int}/status", opt={FORM: ReferralStatusIn})
async def referral_status_page(request: Request, db: NamedDependency[AsyncSession],
                               registry: NamedDependency[AgencyRegistry], referral_id: FromPath[int]) -> Redirect:
    referral = await _move(db, registry, request, referral_id, from_form(ReferralStatusIn, await request.form()))
    return await _after_change(db, current_actor(request), referral)


@post("/referrals/{referral_id:int}/notes", opt={FORM: ReferralNoteIn})
async def referral_note_page(request: Request, db: NamedDependency[AsyncSession],
                             referral_id: FromPath[int]) -> Redirect:
    referral = await _note(db, request, referral_id, from_form(ReferralNoteIn, await request.form()))
    return _to_case(referral.case_id)


@get("/api/cases/{case_id:int}/referrals")
async def list_referrals(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                         case_id: FromPath[int]) -> list[dict]:
    case = await cases.case_for(db, current_actor(request), case_id)
    rows = await referrals.case_referrals(db, case.id)
    services = await referrals.services_by_id(db, {r.service_id for r in rows})
    return [referral_json(r, registry, services.get(r.service_id)) for r in rows]


@post("/api/cases/{case_id:int}/referrals")
async def refer(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                case_id: FromPath[int], data: JSONBody[ReferralIn]) -> dict:
    return await _json(db, registry, await _refer(db, registry, request, case_id, data))


@get("/api/referrals/incoming")
async def incoming_referrals(request: Request, db: NamedDependency[AsyncSession],
                             registry: NamedDependency[AgencyRegistry]) -> list[dict]:
    """Referrals sent to the caller's agency, awaiting its answer or its outcome (the dashboard's list)."""
    return [incoming_referral_json(r, registry) for r in await referrals.incoming(db, current_actor(request))]


@get("/api/referrals/{referral_id:int}")
async def get_referral(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       referral_id: FromPath[int]) -> dict:
    """In full for those who see the case; the agency it is sent to, not on the case, sees the referral alone."""
    actor = current_actor(request)
    referral, case = await referrals.referral_for(db, actor, referral_id)
    if policy.may_see_case(actor, cases.agencies_of(case)):
        return await _json(db, registry, referral)
    incoming = referrals.IncomingReferral(referral.id, case.reference, referral.purpose,
                                          await referrals.referring_agency(db, referral), referrals.sent_at(referral),
                                          referral.status, referral.version)
    return incoming_referral_json(incoming, registry)


@post("/api/referrals/{referral_id:int}/status")
async def change_referral_status(request: Request, db: NamedDependency[AsyncSession],
                                 registry: NamedDependency[AgencyRegistry], referral_id: FromPath[int],
                                 data: JSONBody[ReferralStatusIn]) -> dict:
    referral = await _move(db, registry, request, referral_id, data)
    actor = current_actor(request)
    if policy.may_see_case(actor, await cases.agencies_on(db, referral.case_id)):
        return await _json(db, registry, referral)
    return {"id": referral.id, "status": referral.status, "version": referral.version}  # declined: still not on it


@post("/api/referrals/{referral_id:int}/notes")
async def add_referral_note(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], referral_id: FromPath[int],
                            data: JSONBody[ReferralNoteIn]) -> dict:
    return await _json(db, registry, await _note(db, request, referral_id, data))


# --- the feedback survey ---------------------------------------------------------------------------

async def _survey_state(db: AsyncSession, actor: Actor, case_id: int) -> tuple[Case, object, bool]:
    case = await cases.case_for(db, actor, case_id)
    given = await feedback.administration_of(db, case.id)
    allowed = given is None and policy.may_administer_survey(actor, case, await feedback.too_close_to_her(db, case))
    return case, given, allowed


async def _administer(db: AsyncSession, settings: Settings, request: Request, case_id: int, data: SurveyIn):  # noqa: ANN202
    given = await feedback.administer(db, _questions(settings), current_actor(request), case_id, data)
    await db.commit()
    return given


@get("/cases/{case_id:int}/feedback")
async def survey_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      case_id: FromPath[int]) -> Template:
    case, given, allowed = await _survey_state(db, current_actor(request), case_id)
    return Template("feedback.html", context={
        "case": case, "given": given, "allowed": allowed, "questions": _questions(settings),
        "choices": feedback.CHOICES, "modes": feedback.MODES, "consent_text": feedback.INFORMED_CONSENT,
        "report": None})


@post("/cases/{case_id:int}/feedback", opt={FORM: SurveyIn, ROWS: SURVEY_ROWS})
async def survey_form(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      case_id: FromPath[int]) -> Redirect:
    data = survey_from_form(await request.form(), len(_questions(settings)))
    await _administer(db, settings, request, case_id, data)
    return Redirect(section_url(case_id, "referrals"), status_code=303)


@get("/feedback")
async def report_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      period: FromQuery[str | None] = None) -> Template:
    """The survey's answers in aggregate, for a month or a quarter that has ended."""
    report = await feedback.report(db, _questions(settings), current_actor(request), period or _last_ended_quarter())
    return Template("feedback.html", context={"report": report, "choices": feedback.CHOICES,
                                              "minimum": feedback.MIN_ANSWERS})


@get("/api/feedback/questions")
async def survey_questions(settings: NamedDependency[Settings]) -> dict:
    """The survey as it is given: the consent read first, the questions (answered in this order) and the choices."""
    return {"informed_consent": list(feedback.INFORMED_CONSENT), "questions": _questions(settings),
            "choices": list(feedback.CHOICES), "modes": list(feedback.MODES)}


@get("/api/cases/{case_id:int}/feedback")
async def survey_state(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> dict:
    """Whether the survey was given on the case (never the answers) and whether the caller may give it."""
    _, given, allowed = await _survey_state(db, current_actor(request), case_id)
    return {"given": survey_json(given), "may_administer": allowed}


@post("/api/cases/{case_id:int}/feedback")
async def administer_survey(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                            case_id: FromPath[int], data: JSONBody[SurveyIn]) -> dict:
    return survey_json(await _administer(db, settings, request, case_id, data))


@get("/api/feedback")
async def feedback_report(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                          period: FromQuery[str | None] = None) -> dict:
    """Counts per answer over a month (``2026-11``) or a quarter (``2026-Q4``) that has ended; withheld
    (with the reason) under five answers or where comparing it with its months would show fewer."""
    report = await feedback.report(db, _questions(settings), current_actor(request), period or _last_ended_quarter())
    return feedback_report_json(report)


PAGES = [incoming_page, directory_page, add_service_page, deactivate_service_page, refer_page, referral_status_page,
         referral_note_page, survey_page, survey_form, report_page]
API = [list_services, add_service, deactivate_service, list_referrals, refer, incoming_referrals, get_referral,
       change_referral_status, add_referral_note, survey_questions, survey_state, administer_survey, feedback_report]
