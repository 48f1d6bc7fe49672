"""Before the meeting over HTTP: circulating the agenda, each agency's agenda and research
returns, the chair's readiness view and the "not shared because" ledger (pages and JSON API)."""

from __future__ import annotations

from dataclasses import asdict

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases
from coordinator.conference import research
from coordinator.conference.research import ResearchItemIn, ReturnIn
from coordinator.errors import Conflict, DomainError, Forbidden, NotFound
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, from_form
from coordinator.web.json import item_json


def _return_json(view: research.ReturnView, registry: AgencyRegistry) -> dict:
    return {**{k: v for k, v in asdict(view).items() if k != "items"},
            "items": [item_json(item, registry) for item in view.items]}


async def _readiness_or_none(db: AsyncSession, request: Request, conference_id: int) -> research.Readiness | None:
    """The readiness view for those who may see it; others' page shows their agenda alone."""
    try:
        return await research.readiness(db, current_actor(request), conference_id)
    except Forbidden:
        return None


# --- pages -----------------------------------------------------------------------------------

async def _page(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int, *,
                error: DomainError | None = None, failed_case: int | None = None) -> Template:
    """Before the meeting: the agenda as the reader's agency received it, with the deadline and,
    per case it is on, its return (its draft items and the forms to add to it and submit it); for
    the chair, the circulate button and who is ready. A refused form comes back with its message."""
    actor = current_actor(request)
    try:
        agenda = await research.agency_agenda(db, actor, conference_id)
    except Conflict as not_yet:
        return Template("conferences/research.html", status_code=409, context={
            "agenda": None, "readiness": None, "returns": {}, "error": not_yet, "conference_id": conference_id})
    returns = {line.case_id: await research.return_of(db, registry, actor, conference_id, line.case_id)
               for line in agenda.lines if line.on_case and agenda.circulated_at is not None}
    await db.commit()  # reading one's own items discloses nothing, but the gate's audit is committed as anywhere
    agency = registry.get(actor.agency) if actor.agency in registry else None
    return Template("conferences/research.html", status_code=error.status if error else 200, context={
        "agenda": agenda, "readiness": await _readiness_or_none(db, request, conference_id), "returns": returns,
        "categories": agency.categories if agency else [], "error": error, "failed_case": failed_case,
        "conference_id": conference_id, "SHARING": research.SHARING_LABELS, "OUTCOMES": research.OUTCOME_LABELS})


@get("/conferences/{conference_id:int}/research")
async def research_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        conference_id: FromPath[int]) -> Template:
    return await _page(request, db, registry, conference_id)


async def _form_change(request: Request, db: AsyncSession, registry: AgencyRegistry, conference_id: int, case_id: int,
                       change) -> Template | Redirect:  # noqa: ANN001 (the service call, given the form)
    try:
        await change(await request.form())
        await db.commit()
    except DomainError as error:
        await db.rollback()
        if isinstance(error, NotFound):
            raise
        return await _page(request, db, registry, conference_id, error=error, failed_case=case_id)
    return Redirect(f"/conferences/{conference_id}/research#research-{case_id}", status_code=303)


@post("/conferences/{conference_id:int}/research/{case_id:int}/items", opt={FORM: ResearchItemIn})
async def research_item_page(request: Request, db: NamedDependency[AsyncSession],
                             registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                             case_id: FromPath[int]) -> Template | Redirect:
    async def change(form) -> None:  # noqa: ANN001
        await research.record_research_item(db, registry, current_actor(request), conference_id, case_id,
                                            from_form(ResearchItemIn, form))
    return await _form_change(request, db, registry, conference_id, case_id, change)


@post("/conferences/{conference_id:int}/research/{case_id:int}", opt={FORM: ReturnIn})
async def submit_return_page(request: Request, db: NamedDependency[AsyncSession],
                             registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                             case_id: FromPath[int]) -> Template | Redirect:
    async def change(form) -> None:  # noqa: ANN001
        await research.submit_return(db, registry, current_actor(request), conference_id, case_id,
                                     from_form(ReturnIn, form))
    return await _form_change(request, db, registry, conference_id, case_id, change)


@post("/conferences/{conference_id:int}/circulate")
async def circulate_page(request: Request, db: NamedDependency[AsyncSession],
                         registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int]) -> Redirect:
    await research.circulate_agenda(db, registry, current_actor(request), conference_id)
    await db.commit()
    return Redirect(f"/conferences/{conference_id}/research", status_code=303)


# --- JSON API --------------------------------------------------------------------------------

@post("/api/conferences/{conference_id:int}/agenda/circulate", status_code=200)
async def api_circulate(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                        conference_id: FromPath[int]) -> research.AgencyAgenda:
    """Send the agenda and the research deadline to every invited agency (once, before the meeting)."""
    actor = current_actor(request)
    await research.circulate_agenda(db, registry, actor, conference_id)
    await db.commit()
    return await research.agency_agenda(db, actor, conference_id)


@get("/api/conferences/{conference_id:int}/research")
async def api_agenda(request: Request, db: NamedDependency[AsyncSession],
                     conference_id: FromPath[int]) -> research.AgencyAgenda:
    """The circulated agenda as the requester's agency received it, with its own returns."""
    return await research.agency_agenda(db, current_actor(request), conference_id)


@get("/api/conferences/{conference_id:int}/research/{case_id:int}")
async def api_return(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                     conference_id: FromPath[int], case_id: FromPath[int]) -> dict:
    """The requester's agency's return on a case, draft or submitted, with its items."""
    return await _return_answer(db, registry, current_actor(request), conference_id, case_id)


async def _return_answer(db: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                         case_id: int) -> dict:
    """The agency's return as it now stands (reading it through the gate records disclosures: committed)."""
    view = await research.return_of(db, registry, actor, conference_id, case_id)
    await db.commit()
    return _return_json(view, registry)


@post("/api/conferences/{conference_id:int}/research/{case_id:int}/items")
async def api_research_item(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                            case_id: FromPath[int], data: JSONBody[ResearchItemIn]) -> dict:
    """Record an item of the agency's research (its own until the return is submitted)."""
    actor = current_actor(request)
    await research.record_research_item(db, registry, actor, conference_id, case_id, data)
    await db.commit()
    return await _return_answer(db, registry, actor, conference_id, case_id)


@post("/api/conferences/{conference_id:int}/research/{case_id:int}", status_code=200)
async def api_submit_return(request: Request, db: NamedDependency[AsyncSession],
                            registry: NamedDependency[AgencyRegistry], conference_id: FromPath[int],
                            case_id: FromPath[int], data: JSONBody[ReturnIn]) -> dict:
    """Submit the agency's return: information recorded, nothing held, or not researched (why)."""
    actor = current_actor(request)
    await research.submit_return(db, registry, actor, conference_id, case_id, data)
    await db.commit()
    return await _return_answer(db, registry, actor, conference_id, case_id)


@get("/api/conferences/{conference_id:int}/readiness")
async def api_readiness(request: Request, db: NamedDependency[AsyncSession],
                        conference_id: FromPath[int]) -> research.Readiness:
    """Per case on the agenda and agency on it: returned, nothing held, not researched, overdue or awaiting."""
    return await research.readiness(db, current_actor(request), conference_id)


@get("/api/cases/{case_id:int}/not-shared")
async def api_not_shared(request: Request, db: NamedDependency[AsyncSession],
                         case_id: FromPath[int]) -> list[research.NotShared]:
    """What agencies hold back on the case, and why (never the text): one's own agency's entries,
    every agency's for a supervisor."""
    actor = current_actor(request)
    await cases.case_for(db, actor, case_id)  # 404 for a case the actor may not see
    return await research.not_shared_ledger(db, actor, case_id)


PAGES = [research_page, circulate_page, research_item_page, submit_return_page]
API = [api_circulate, api_agenda, api_return, api_research_item, api_submit_return, api_readiness, api_not_shared]
