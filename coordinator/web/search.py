"""Search for earlier cases: a page and its JSON twin, both through ``coordinator.search``."""

from __future__ import annotations

from typing import Annotated

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import case_links, cases, policy, search
from coordinator.errors import Invalid
from coordinator.web.auth import current_actor

Words = Annotated[str, QueryParameter(
    name="q", min_length=2, max_length=search.MAX_QUERY,
    description="a name (spelling need not be exact), a date of birth (YYYY-MM-DD) or a case reference")]
Page = Annotated[int, QueryParameter(ge=1, le=10_000, description="the page of results, from 1")]


def _hit_json(hit: search.Hit) -> dict:
    return {"case_id": hit.case_id, "reference": hit.reference, "stage": hit.stage, "why": hit.why,
            "people": [{"role": p.role, "name": p.name, "born_on": p.born_on.isoformat() if p.born_on else None,
                        "why": p.why} for p in hit.people]}


@get("/api/search")
async def search_json(request: Request, db: NamedDependency[AsyncSession], q: Words, page: Page = 1) -> dict:
    """People and cases matching ``q``: cases you may see in full; of any other match only
    ``elsewhere`` (a possible earlier case exists: ask the coordinator)."""
    found = await search.search(db, current_actor(request), q, page)
    await db.commit()
    return {"q": found.text, "page": found.page, "pages": found.pages, "total": found.total,
            "results": [_hit_json(h) for h in found.hits],
            "elsewhere": search.ELSEWHERE if found.elsewhere else None}


@get("/search")
async def search_page(request: Request, db: NamedDependency[AsyncSession], q: FromQuery[str | None] = None,
                      page: FromQuery[str | None] = None) -> Template:
    """The search form, and its results when a search was made."""
    actor = current_actor(request)
    policy.require_searcher(actor)
    if q is None or q == "":
        return Template("search.html", context={"q": "", "found": None, "error": None})
    try:
        number = int(page or 1)
    except ValueError:
        number = 0
    try:
        found = await search.search(db, actor, q, number)
    except Invalid as error:
        return Template("search.html", status_code=400, context={"q": q, "found": None, "error": error})
    await db.commit()
    return Template("search.html", context={"q": q, "found": found, "error": None, "elsewhere": search.ELSEWHERE})


@get("/api/cases/{case_id:int}/possible-earlier-cases")
async def possible_earlier_cases(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> list[dict]:
    """Other cases that may concern this case's people, not yet decided on (for a coordinator)."""
    actor = current_actor(request)
    case = await cases.case_for(db, actor, case_id)
    return [c.as_json() for c in await case_links.open_candidates(db, actor, case)]


@post("/api/cases/{case_id:int}/links")
async def decide_link(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int],
                      data: JSONBody[case_links.DecisionIn]) -> dict:
    """A coordinator's decision: the other case is (``same``) or is not the same person's."""
    link = await case_links.link_cases(db, current_actor(request), case_id, data)
    await db.commit()
    return {"earlier_case_id": link.earlier_case_id, "later_case_id": link.later_case_id, "same": link.same}


ROUTES = [search_json, search_page, possible_earlier_cases, decide_link]
