"""The coordinator's figures: a page with charts, the same numbers as CSV, and as JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Annotated

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import figures
from coordinator.errors import Invalid
from coordinator.models import utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.settings import Settings
from coordinator.web.auth import current_actor

# Read as text and parsed here, so that a refusal names the parameter as sent ("from", "to").
From = Annotated[str | None, QueryParameter(name="from", format="date", description="first day of the period")]
To = Annotated[str | None, QueryParameter(name="to", format="date", description="last day of the period")]


def _day(text: str | None, name: str) -> dt.date | None:
    if text is None or text == "":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{name}: give a day as YYYY-MM-DD", field=name) from None


async def _figures(request: Request, db: AsyncSession, registry: AgencyRegistry, settings: Settings,
                   start: str | None, end: str | None) -> figures.Figures:
    today = utcnow().astimezone(settings.zone).date()
    return await figures.figures(db, registry, current_actor(request), _day(start, "from"), _day(end, "to"),
                                 settings.zone, today, settings.threat_levels, settings.referral.repeat_window_days)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: hidden, no bar
    text: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    scale: float  # the value of a full-length bar
    bars: list[Bar]


def _percent_bar(label: str, row: figures.Figure) -> Bar:
    return Bar(label, row.percent, f"{row.percent}%" if row.percent is not None else row.shown)


def charts(found: figures.Figures) -> dict[str, Chart]:
    """The page's charts, drawn from the very figures its tables show (hidden stays hidden)."""
    shares = [row for row in found.overall if row.measure in figures.SHARES]
    return {
        "shares": Chart("shares", "Share of the cases heard (%)", 100, [_percent_bar(r.label, r) for r in shares]),
        "actions": Chart("actions", "Actions completed on time (%)", 100,
                         [_percent_bar(r.group, r) for r in found.actions]),
        "sources": Chart("sources", "Referrals by source", max([r.count or 0 for r in found.sources] + [1]),
                         [Bar(r.group, r.count, r.shown) for r in found.sources]),
    }


@get("/figures")
async def figures_page(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                       settings: NamedDependency[Settings], start: From = None, end: To = None) -> Template:
    """Cases heard, repeats, children, high risk, actions on time and referrals by source, for a
    period (the current quarter unless asked), with every count under five hidden."""
    found = await _figures(request, db, registry, settings, start, end)
    previous = figures.quarter_of(found.start - dt.timedelta(days=1))
    return Template("figures.html", context={"figures": found, "charts": charts(found), "previous": previous,
                                             "smallest": figures.SMALLEST_SHOWN})


CSV_COLUMNS = ("from", "to", "measure", "group", "value", "of", "percent")


def as_csv(found: figures.Figures) -> str:
    """One row per figure, with the very text the page shows ("fewer than 5" included)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in found.rows:
        writer.writerow([found.start.isoformat(), found.end.isoformat(), row.label, row.group, row.shown,
                         "" if row.of is None else row.of, "" if row.percent is None else row.percent])
    return out.getvalue()


@get("/figures.csv", media_type="text/csv; charset=utf-8")
async def figures_csv(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      settings: NamedDependency[Settings], start: From = None, end: To = None) -> Response[str]:
    """The page's numbers as CSV, for the quarterly return."""
    found = await _figures(request, db, registry, settings, start, end)
    name = f"figures-{found.start.isoformat()}-to-{found.end.isoformat()}.csv"
    return Response(as_csv(found), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@get("/api/figures")
async def api_figures(request: Request, db: NamedDependency[AsyncSession], registry: NamedDependency[AgencyRegistry],
                      settings: NamedDependency[Settings], start: From = None, end: To = None) -> figures.Figures:
    return await _figures(request, db, registry, settings, start, end)


ROUTES = [figures_page, figures_csv, api_figures]
