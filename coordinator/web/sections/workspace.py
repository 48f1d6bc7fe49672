"""The case workspace: a header and the case's sections, one at a time, each at its own URL.

Every section is served three ways from its one partial: inside the page (``/cases/{id}/{key}``),
alone for htmx ("show more", "reload this section"), and as a live swap to open pages when a case
change moves one of its parts. Forms on a section post to their area's handlers, which answer
through ``submit``: back to the section, or the section again with the message beside the form
and what was typed."""

from __future__ import annotations

from jinja2 import Environment
from litestar import Request, get
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Response, Template
from markupsafe import Markup, escape
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases
from coordinator.errors import DomainError, NotFound
from coordinator.models import utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.web.auth import current_actor
from coordinator.web.sections import (
    closure,
    events,
    follow_up,
    header,
    history,
    items,
    mandatory_reports,
    referrals,
    role_map,
    safety_plan,
    stage,
    summary,
    task_lists,
    threat_plan,
    views_and_wishes,
)
from coordinator.web.sections.section import PAGE_ROWS, Change, Reader, Refusal, Section, submit

SECTIONS: tuple[Section, ...] = (
    summary.SECTION, stage.SECTION, views_and_wishes.SECTION, safety_plan.SECTION, follow_up.SECTION,
    threat_plan.SECTION, items.SECTION, task_lists.SECTION, role_map.SECTION, events.SECTION, referrals.SECTION,
    mandatory_reports.SECTION, history.SECTION, closure.SECTION,
)
BY_KEY = {section.key: section for section in SECTIONS}
FIRST = summary.SECTION
MAX_SHOWN = 2000  # "show more" adds PAGE_ROWS at a time; a hand-made URL cannot ask for everything at once


async def reader_for(db: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int, *,
                     shown: int = PAGE_ROWS, refusal: Refusal | None = None) -> Reader:
    case = await cases.case_for(db, actor, case_id)
    return Reader(db, registry, actor, case, utcnow().date(), shown=min(max(shown, PAGE_ROWS), MAX_SHOWN),
                  refusal=refusal)


def _section(case, key: str) -> Section:  # noqa: ANN001
    section = BY_KEY.get(key)
    if section is None or not section.applies(case):
        raise NotFound(f"this case has no section {key!r}")
    return section


async def page_context(reader: Reader, section: Section) -> dict:
    """The whole page: the header, the navigation between the case's sections and one section."""
    view = await section.view(reader)
    return {**view, **await header.load(reader), "current": section,
            "sections": [s for s in SECTIONS if s.applies(reader.case)]}


async def section_response(request: Request, db: AsyncSession, case_id: int, key: str, *, refusal: Refusal | None = None,
                status: int = 200) -> Template:
    reader = await reader_for(db, request.app.state.registry, current_actor(request), case_id,
                              shown=_shown(request), refusal=refusal)
    if refusal is not None and not BY_KEY[key].applies(reader.case):
        raise refusal.error  # a form of a section this case does not have: the error alone
    section = _section(reader.case, key)
    if request.headers.get("hx-request") and refusal is None:
        context = await section.view(reader)
        await db.commit()  # the view's disclosures
        return Template(section.template, context=context)
    context = await page_context(reader, section)
    await db.commit()
    return Template("case.html", status_code=status, context=context)


def _shown(request: Request) -> int:
    raw = request.query_params.get("shown", "")
    return int(raw) if raw.isdigit() else PAGE_ROWS


@get("/cases/{case_id:int}")
async def case_page(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> Template:
    return await section_response(request, db, case_id, FIRST.key)


def _section_page(section: Section):  # noqa: ANN202
    """One section of the case, in the page; alone when htmx asks (more rows, or a reload). A route
    per section: its path is its area's prefix, beside the area's form handlers."""

    @get(f"/cases/{{case_id:int}}/{section.key}", name=f"case_section_{section.key}")
    async def handler(request: Request, db: NamedDependency[AsyncSession], case_id: FromPath[int]) -> Template:
        return await section_response(request, db, case_id, section.key)

    return handler


PAGES = [case_page, *(_section_page(section) for section in SECTIONS if section is not FIRST)]


# --- the one way a case form answers -------------------------------------------------------------

def section_url(case_id: int, key: str) -> str:
    return f"/cases/{case_id}" if key == FIRST.key else f"/cases/{case_id}/{key}"


async def submit_to_section(request: Request, db: AsyncSession, case_id: int, *, section: str, form_id: str,
                            change: Change) -> Response:
    """A form on a case section: back to the section, or the section with the refusal."""

    async def refused(error: DomainError, failed: str, values: FormMultiDict) -> Response:
        return await section_response(request, db, case_id, section, refusal=Refusal(error, failed, values), status=error.status)

    return await submit(request, db, form_id=form_id, change=change, success=section_url(case_id, section),
                        refused=refused)


# --- live ----------------------------------------------------------------------------------------

async def live_update(db: AsyncSession, actor: Actor, case_id: int, key: str, token: str, parts: frozenset[str] | None,
                      *, registry: AgencyRegistry, env: Environment) -> str:
    """What an open page showing section ``key`` gets when the case's ``parts`` moved (None: all):
    the header and the section, each only if it reads one of those parts, rendered for the reader
    through the gate. Forms carry the reader's own form token, as the page did."""
    reader = await reader_for(db, registry, actor, case_id)
    section = BY_KEY.get(key, FIRST)
    csrf = {"csrf_input": Markup(f'<input type="hidden" name="_csrf_token" value="{escape(token)}" />')}
    swaps = []
    if parts is None or parts & header.PARTS:
        context = {**reader.common(), **await header.load(reader), **csrf, "current": section,
                   "sections": [s for s in SECTIONS if s.applies(reader.case)]}
        swaps.append(env.get_template("sections/_header.html").render(context).replace(
            '<header id="case-header"', '<header id="case-header" hx-swap-oob="outerHTML"', 1))
    if section.applies(reader.case) and (parts is None or parts & section.parts):
        html = env.get_template(section.template).render({**await section.view(reader), **csrf})
        by = ""
        if parts is not None:  # someone's change, not the page's first state: say whose
            agency = await audit.last_changed_by(db, case_id)
            by = registry.name(agency) if agency else "an administrator"
        swaps.append(f'<div id="section-body" hx-swap-oob="innerHTML" data-changed-by="{escape(by)}">{html}</div>')
    return "".join(swaps)
