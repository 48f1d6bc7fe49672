"""The coordinator's figures for a period, as MARAC practice reports them each quarter: cases
heard, repeat referrals, cases with children, the high-risk share, the equality categories of the
MARAC data return, conference actions completed on time per agency, and referrals by source.

Aggregates only, and every count under five is hidden ("fewer than 5"), so that no figure points
at a person; a share is shown only when both the count and the rest of its total are five or
more (else the total would give the small count away). Nothing here returns a case, a reference
or a name.

Definitions (the page says them too):
- a case is *heard* when it was discussed (its agenda line reached) at a conference that ended
  in the period; a case heard at two conferences counts once;
- *repeat*, *children* and *high risk* are read from the cases heard as they stand now;
- the *equality* shares (black, Asian and minority ethnic; lesbian, gay, bisexual and trans; with a
  disability; male; aged 16-17) count the cases heard whose survivor gave that answer at referral
  (one who preferred not to say, or was not asked, is in none of them); her answers are read here
  only, and only to count;
- an *action* is a task agreed in a conference, due in the period (those marked not applicable
  left out); it is *on time* when it is done and was marked done on or before its due day;
- a *referral* is a case created in the period, by the agency recorded as referring it;
- a threat-assessment *report* is a threat-assessment case reported in the period; it is *screened
  in time* when its first classification was recorded by the time the team set for it (a report from
  before the team set one: within a day); the *time from report to screening* is the median over the
  screened reports, shown from five; its *level* is its latest approved classification; *plan items by domain* count the plan items of those cases (those set
  aside left out); *long-term monitoring* counts the cases in it now.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from coordinator import equality, policy
from coordinator.errors import Invalid
from coordinator.hookspecs import STRATEGY_DOMAINS
from coordinator.models import AgendaItem, Case, CaseLink, CasePerson, Conference, Task, TaskEvent, ThreatScreening
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

SMALLEST_SHOWN = 5
FEWER = f"fewer than {SMALLEST_SHOWN}"
ALL_BUT_FEWER = f"all but {FEWER}"
NOT_RECORDED = "Not recorded"
SHARES = ("repeat_referrals", "cases_with_children", "high_risk")  # the shares of the cases heard
# A period is a span of days in this range: wide enough for any report, narrow enough that its
# bounds convert between time zones without leaving the calendar.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2999, 12, 31)


@dataclass(frozen=True)
class Figure:
    """One published number. ``count`` and ``percent`` are None when hidden; ``shown`` is what
    people read: the count, "fewer than 5" or "all but fewer than 5"."""

    measure: str
    label: str
    group: str  # an agency's name, or "" for the whole period
    count: int | None
    shown: str
    of: int | None = None  # the total of a share, when it may be published
    percent: int | None = None


@dataclass(frozen=True)
class Figures:
    start: dt.date
    end: dt.date
    overall: list[Figure]
    actions: list[Figure]  # per agency
    sources: list[Figure]  # per referring agency
    teams: list[Figure]  # threat-assessment teams' reports, screenings, levels and plans

    @property
    def rows(self) -> list[Figure]:
        return [*self.overall, *self.actions, *self.sources, *self.teams]


def _count(measure: str, label: str, n: int, group: str = "") -> Figure:
    if n < SMALLEST_SHOWN:
        return Figure(measure, label, group, None, FEWER)
    return Figure(measure, label, group, n, str(n))


def _share(measure: str, label: str, n: int, total: int, group: str = "") -> Figure:
    of = total if total >= SMALLEST_SHOWN else None
    if n < SMALLEST_SHOWN:
        return Figure(measure, label, group, None, FEWER, of)
    if total - n < SMALLEST_SHOWN:
        return Figure(measure, label, group, None, ALL_BUT_FEWER, of)
    return Figure(measure, label, group, n, str(n), of, round(100 * n / total))


def quarter_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar quarter holding ``day``: the period the page opens on."""
    first = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    after = dt.date(first.year + (first.month == 10), (first.month + 3 - 1) % 12 + 1, 1)
    return first, after - dt.timedelta(days=1)


def period(start: dt.date | None, end: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The period asked for, both days included: a day not given comes from the quarter of the
    other (or of today)."""
    for name, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise Invalid(f"{name}: give a day from {EARLIEST.year} to {LATEST.year}", field=name)
    start = start or quarter_of(end or today)[0]
    end = end or quarter_of(start)[1]
    if end < start:
        raise Invalid("to: the period ends before it starts", field="to")
    return start, end


def _bounds(start: dt.date, end: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The period's local days as UTC instants: from the first day's start to the start of the day
    after the last."""
    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC)
    return midnight(start), midnight(end + dt.timedelta(days=1))


async def _repeats(session: AsyncSession, case_ids: list[int], repeat_window_days: int) -> set[int]:
    """The cases linked as the same person to an earlier case referred within the repeat window
    before them: repeats read from the links, not from a date someone typed."""
    earlier = aliased(Case)
    rows = await session.execute(
        select(CaseLink.later_case_id, Case.created_at, earlier.created_at)
        .join(Case, Case.id == CaseLink.later_case_id).join(earlier, earlier.id == CaseLink.earlier_case_id)
        .where(CaseLink.same.is_(True), CaseLink.later_case_id.in_(case_ids)))
    window = dt.timedelta(days=repeat_window_days)
    return {case_id for case_id, referred, before in rows if dt.timedelta(0) <= referred - before <= window}


async def _cases_heard(session: AsyncSession, since: dt.datetime, until: dt.datetime,
                       repeat_window_days: int) -> list[Figure]:
    ended = select(Conference.id).where(Conference.status == "ended", Conference.ended_at >= since,
                                        Conference.ended_at < until)
    heard = select(AgendaItem.case_id).where(AgendaItem.conference_id.in_(ended),
                                                       AgendaItem.status == "discussed")
    with_children = exists().where(CasePerson.case_id == Case.id, CasePerson.role == "child")
    rows = (await session.execute(select(Case.id, Case.risk_level, with_children)
                                  .where(Case.id.in_(heard)))).all()
    repeats = await _repeats(session, [case_id for case_id, _, _ in rows], repeat_window_days)
    held = (await session.execute(select(func.count()).select_from(ended.subquery()))).scalar_one()
    total = len(rows)
    groups = await equality.counts(session, [case_id for case_id, _, _ in rows])
    return [
        _count("conferences_held", "Conferences held", held),
        _count("cases_heard", "Cases heard", total),
        _share("repeat_referrals", "Repeat referrals", len(repeats),
               total),
        _share("cases_with_children", "Cases with children", sum(bool(children) for _, _, children in rows), total),
        _share("high_risk", "High risk", sum(risk == "high" for _, risk, _ in rows), total),
        *(_share(measure, label, groups[measure], total)
          for measure, (label, _, _) in equality.RETURN_CATEGORIES.items()),
    ]


async def _actions_on_time(session: AsyncSession, registry: AgencyRegistry, start: dt.date, end: dt.date,
                           zone: ZoneInfo) -> list[Figure]:
    tasks = (await session.execute(
        select(Task.id, Task.agency, Task.due_on, Task.status)
        .where(Task.source == "conference", Task.due_on >= start, Task.due_on <= end,
               Task.status != "not_applicable"))).all()
    done_at = dict((await session.execute(
        select(TaskEvent.task_id, TaskEvent.at).where(TaskEvent.task_id.in_([t.id for t in tasks]),
                                                      TaskEvent.status == "done").order_by(TaskEvent.id))).all())
    # The last "done" counts: a task reopened and done again was done when it was last done.
    due: dict[str, int] = {}
    on_time: dict[str, int] = {}
    for task in tasks:
        due[task.agency] = due.get(task.agency, 0) + 1
        if task.status == "done" and task.id in done_at and done_at[task.id].astimezone(zone).date() <= task.due_on:
            on_time[task.agency] = on_time.get(task.agency, 0) + 1
    # Every agency is listed, with or without actions, so a listed agency says nothing by being there.
    agencies = [*registry.keys, *sorted(set(due) - set(registry.keys))]
    return [_share("actions_on_time", "Actions completed on time", on_time.get(key, 0), due.get(key, 0),
                   registry.name(key)) for key in agencies]


async def _referrals_by_source(session: AsyncSession, registry: AgencyRegistry, since: dt.datetime,
                               until: dt.datetime) -> list[Figure]:
    counts = dict((await session.execute(
        select(Case.referring_agency, func.count()).where(Case.created_at >= since, Case.created_at < until)
        .group_by(Case.referring_agency))).all())
    sources = [*registry.keys, *sorted(set(counts) - set(registry.keys) - {None})]
    # No total: with one source hidden, the total less the others would give it away.
    return [*(_count("referrals_by_source", "Referrals", counts.get(key, 0), registry.name(key)) for key in sources),
            _count("referrals_by_source", "Referrals", counts.get(None, 0), NOT_RECORDED)]


SCREENED_WITHIN = dt.timedelta(days=1)


def _median_hours(measure: str, label: str, waits: list[dt.timedelta]) -> Figure:
    """The median of ``waits`` in whole hours, shown only over five or more of them."""
    if len(waits) < SMALLEST_SHOWN:
        return Figure(measure, label, "", None, f"{FEWER} screened")
    hours = round(statistics.median(w.total_seconds() for w in waits) / 3600)
    return Figure(measure, label, "", hours, f"{hours} hour{'s' if hours != 1 else ''}")


def _worded(key: str) -> str:
    """A level or a domain as the page names it (the same words in the CSV and the JSON)."""
    return key.replace("_", " ").capitalize()


async def _threat_teams(session: AsyncSession, since: dt.datetime, until: dt.datetime,
                        levels: tuple[str, ...]) -> list[Figure]:
    reported = select(Case.id).where(Case.kind == "threat_assessment", Case.reported_at >= since,
                                     Case.reported_at < until)
    first = (select(ThreatScreening.case_id, func.min(ThreatScreening.at).label("at"))
             .group_by(ThreatScreening.case_id).subquery())
    reports = (await session.execute(
        select(Case.reported_at, Case.screening_due_at, first.c.at).outerjoin(first, first.c.case_id == Case.id)
        .where(Case.id.in_(reported)))).all()
    newest = (select(ThreatScreening.case_id, func.max(ThreatScreening.version).label("version"))
              .where(ThreatScreening.case_id.in_(reported), ThreatScreening.status == "approved")
              .group_by(ThreatScreening.case_id).subquery())
    level_counts = dict((await session.execute(
        select(ThreatScreening.level, func.count())
        .join(newest, (newest.c.case_id == ThreatScreening.case_id) & (newest.c.version == ThreatScreening.version))
        .group_by(ThreatScreening.level))).all())
    domains = dict((await session.execute(
        select(Task.domain, func.count()).where(Task.case_id.in_(reported), Task.strategy.is_not(None),
                                                Task.status != "not_applicable").group_by(Task.domain))).all())
    long_term = (await session.execute(select(func.count()).select_from(Case).where(
        Case.kind == "threat_assessment", Case.monitoring_status == "long_term", Case.closed_at.is_(None)))).scalar()
    # A report from before the team set its time is held to the first day.
    in_time = sum(screened is not None and screened <= (due or at + SCREENED_WITHIN) for at, due, screened in reports)
    waits = [screened - at for at, _, screened in reports if screened is not None]
    return [
        _count("threat_reports", "Threat-assessment reports", len(reports)),
        _share("screened_in_time", "Screened in the time the team sets", in_time, len(reports)),
        _median_hours("report_to_screening", "Time from report to screening (median)", waits),
        *(_count("cases_by_level", "Cases by level", level_counts.get(level, 0), _worded(level)) for level in levels),
        *(_count("plan_items_by_domain", "Plan items by domain", domains.get(domain, 0), _worded(domain))
          for domain in STRATEGY_DOMAINS),
        _count("long_term_monitoring", "Cases in long-term monitoring now", long_term),
    ]


async def figures(session: AsyncSession, registry: AgencyRegistry, actor: Actor, start: dt.date | None,
                  end: dt.date | None, zone: ZoneInfo, today: dt.date, threat_levels: tuple[str, ...],
                  repeat_window_days: int = 365) -> Figures:
    """The figures of the local days ``start`` to ``end`` (see ``period``), for those who coordinate."""
    policy.require_coordinator(actor, "see the coordinator's figures")
    start, end = period(start, end, today)
    since, until = _bounds(start, end, zone)
    return Figures(start, end, overall=await _cases_heard(session, since, until, repeat_window_days),
                   actions=await _actions_on_time(session, registry, start, end, zone),
                   sources=await _referrals_by_source(session, registry, since, until),
                   teams=await _threat_teams(session, since, until, threat_levels))
