"""What a case section is: a key (its DOM id, URL and route prefix), one partial (used for the
page, the htmx answer and the live swap), the case-change parts that re-render it, and a loader
that builds its view model from gated reads, with flags only from ``policy``.

A section that grows with the case (follow-ups, events, history) shows the latest ``shown`` rows
and offers more; its loader asks its service for that many, so a page's cost does not grow with
the case's past."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from litestar import Request
from litestar.datastructures import FormMultiDict
from litestar.response import Redirect, Response
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import policy
from coordinator.errors import CaseClosed, DomainError
from coordinator.events import CASE_PARTS
from coordinator.models import Case
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.web.auth import current_actor

PAGE_ROWS = 20  # rows a growing section shows at first, and adds per "show more"
NO_VALUES = FormMultiDict()


@dataclass(frozen=True)
class Refusal:
    """A form the server refused: its message, which form, and what the reader typed."""

    error: DomainError
    form: str
    values: FormMultiDict


@dataclass
class Reader:
    """One person reading one case: what every section loader gets."""

    db: AsyncSession
    registry: AgencyRegistry
    actor: Actor
    case: Case
    today: dt.date
    shown: int = PAGE_ROWS
    refusal: Refusal | None = None

    def common(self) -> dict:
        """What every section's partial reads besides its own view model."""
        refusal = self.refusal
        return {"case": self.case, "actor": self.actor, "can": policy.Permissions(self.actor), "today": self.today,
                "shown": self.shown, "form_error": refusal.error if refusal else None,
                "form_failed": refusal.form if refusal else "", "form_values": refusal.values if refusal else NO_VALUES}


Loader = Callable[[Reader], Awaitable[dict]]


def _always(case: Case) -> bool:
    return True


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    template: str
    parts: frozenset[str]
    load: Loader
    applies: Callable[[Case], bool] = field(default=_always)

    def __post_init__(self) -> None:
        unknown = self.parts - CASE_PARTS
        if unknown:
            raise ValueError(f"section {self.key}: unknown parts {sorted(unknown)}")

    async def view(self, reader: Reader) -> dict:
        return {**reader.common(), **await self.load(reader), "section": self}


def more(rows: list, shown: int) -> tuple[list, bool]:
    """A growing section's rows: the services are asked for one row more than shown, so the
    section knows whether to offer "show more" without counting the whole history."""
    return rows[:shown], len(rows) > shown


Change = Callable[[FormMultiDict, Actor], Awaitable[object]]
Refused = Callable[[DomainError, str, FormMultiDict], Awaitable[Response]]


async def submit(request: Request, db: AsyncSession, *, form_id: str, change: Change, success: str,
                 refused: Refused) -> Response:
    """Run a form's change and commit it, then go to ``success``; on a rule broken, nothing is
    written and ``refused`` answers with the message beside the form and what was typed. A closed
    case's refusal is the error page: no form of it is shown any more."""
    form = await request.form()
    try:
        await change(form, current_actor(request))
    except DomainError as error:
        await db.rollback()
        if isinstance(error, CaseClosed):
            raise
        return await refused(error, form_id, form)
    await db.commit()
    return Redirect(success, status_code=303)
