"""Cases: referral criteria, creation, the agencies involved and their task lists."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, case_links, duties, equality, events, gate, notifications, policy
from coordinator.equality import EqualityIn
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.hookspecs import CaseFacts, TaskTemplate
from coordinator.lifecycle import referral_form, transitions
from coordinator.lifecycle.referral_form import ReferralFormIn
from coordinator.limits import Count, Id, Key, Line, ListOf, OneOf, Text, WrittenLine
from coordinator.models import (
    AgendaItem,
    Case,
    CaseAgency,
    CasePerson,
    Conference,
    InformationItem,
    KeyDate,
    RoleAssignment,
    Task,
    TaskEvent,
    utcnow,
)
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import ReferralThresholds, ScreeningDeadline

CASE_KINDS = {
    "domestic_abuse": "Domestic abuse",
    "gender_based_violence": "Gender-based violence",
    "threat_assessment": "Threat assessment",
}
STAGES = ("referral", "information_gathering", "conference", "action_plan", "follow_up", "closed")
RISK_LEVELS = ("standard", "medium", "high")
# A threat-assessment team takes every report and screens it; its level comes from the screening,
# so the MARAC referral criteria (made for domestic abuse) never refuse one.
ANY_REPORT_KINDS = ("threat_assessment",)
REPORT = "report"  # the ground a case accepted from any report is recorded on
EARLIEST_REPORT_YEAR = 2000
PERSON_ROLES = ("survivor", "subject", "child", "target")
TARGET_KINDS = ("person", "group", "place")  # a threat-assessment case's target
KEY_DATE_KINDS = ("court_order_served", "release_from_custody", "hearing", "relationship_start", "relationship_end",
                  "birthday", "anniversary", "other")
# Dates the monitor warns of ahead (COORDINATOR_MONITOR_NEAR_DAYS), and dates that recur each year.
NEAR_KINDS = ("release_from_custody", "hearing")
RECURRING_KINDS = ("court_order_served", "relationship_start", "relationship_end", "birthday", "anniversary")


@dataclass
class PersonIn:
    role: OneOf(PERSON_ROLES)
    name: WrittenLine(200, "every person needs a name")
    born_on: dt.date | None = None
    target_kind: OneOf(TARGET_KINDS) | None = None


@dataclass
class KeyDateIn:
    kind: OneOf(KEY_DATE_KINDS)
    on: dt.date
    note: Line(500) = ""


@dataclass
class ReferralIn:
    """A referral as the coordinator types it in."""

    kind: OneOf(CASE_KINDS)
    people: ListOf(50, PersonIn)
    summary: Text() = ""
    concern: Text() = ""  # a threat-assessment case: what the team is concerned about
    # The referral form (a domestic-abuse referral as the page takes it): its checklist answers give
    # the score. Without the form, a score counted elsewhere may still be given.
    form: ReferralFormIn | None = None
    equality: EqualityIn | None = None
    checklist_score: Count | None = None
    judgement_level: OneOf(RISK_LEVELS) | None = None
    judgement_reasons: Text() | None = None
    incidents_last_12_months: Count = 0
    # The dates of earlier incidents, when known: escalation then counts those within the
    # escalation window (a setting) instead of the number typed above.
    incident_dates: ListOf(100, dt.date) = field(default_factory=list)
    last_referral_on: dt.date | None = None
    last_incident_on: dt.date | None = None
    key_dates: ListOf(20, KeyDateIn) = field(default_factory=list)
    agencies: ListOf(50, Key) = field(default_factory=list)
    lead_agency: Key | None = None
    referring_agency: Key | None = None
    # A threat-assessment case's report: who reported, when (default: now), where, and whether
    # anyone is in immediate danger (what was said or done is ``concern``).
    reported_by: Line(200) = ""
    reported_at: dt.datetime | None = None
    report_place: Line(200) = ""
    immediate_danger: bool = False
    # The coordinator's answer for each existing case that may concern the people referred: until
    # every one is answered, the case is not created (409 listing them).
    duplicates: ListOf(50, case_links.DecisionIn) = field(default_factory=list)
    # An open case the check found for the people referred: the referral is recorded on it as an
    # update (a coordinator's choice) instead of opening a second case.
    add_to_case: Id | None = None


@dataclass(frozen=True)
class Assessment:
    risk_level: str
    grounds: tuple[str, ...]


def level_from_score(score: int | None, thresholds: ReferralThresholds) -> str:
    if score is None:
        return "standard"
    if score >= thresholds.checklist_high:
        return "high"
    # Below the referral threshold, the upper band is worth watching (SafeLives' "medium").
    return "medium" if score >= thresholds.checklist_high - 4 else "standard"


def assess_referral(referral: ReferralIn, thresholds: ReferralThresholds, today: dt.date) -> Assessment:
    """Apply the referral criteria (MARAC practice, thresholds from settings).

    - checklist: ``checklist_high`` or more "yes" answers of 24;
    - professional judgement with recorded reasons: may raise the level, never lower it;
    - escalation: ``escalation_incidents`` or more incidents within the escalation window;
    - repeat: a new incident within ``repeat_window_days`` of the last referral.
    A referral that meets none of them is refused with the reasons, except a threat-assessment
    case (``ANY_REPORT_KINDS``), which is accepted from any report: the team screens it.
    """
    score = referral.checklist_score
    if score is not None and not 0 <= score <= 24:
        raise Invalid("the risk checklist score counts 'yes' answers of 24: give 0 to 24", field="checklist_score")
    if referral.incidents_last_12_months < 0:
        raise Invalid("the number of incidents cannot be negative", field="incidents_last_12_months")
    level = level_from_score(score, thresholds)
    grounds: list[str] = []
    if score is not None and score >= thresholds.checklist_high:
        grounds.append("checklist")
    if referral.judgement_level is not None:
        if referral.judgement_level not in RISK_LEVELS:
            raise Invalid(f"judgement level must be one of {', '.join(RISK_LEVELS)}", field="judgement_level")
        if not (referral.judgement_reasons or "").strip():
            raise Invalid("professional judgement needs its reasons recorded", field="judgement_reasons")
        if RISK_LEVELS.index(referral.judgement_level) < RISK_LEVELS.index(level):
            raise Invalid(
                f"professional judgement may raise the risk level but never lower it: the checklist gives {level}",
                field="judgement_level",
            )
        level = referral.judgement_level
        if level == "high":
            grounds.append("professional_judgement")
    if incidents_in_window(referral, thresholds, today) >= thresholds.escalation_incidents:
        grounds.append("escalation")
    if referral.last_referral_on is not None:
        incident = referral.last_incident_on or today
        if referral.last_referral_on > incident:
            raise Invalid("the last referral cannot be after the new incident", field="last_referral_on")
        if (incident - referral.last_referral_on).days <= thresholds.repeat_window_days:
            grounds.append("repeat")
    if referral.kind in ANY_REPORT_KINDS:
        return Assessment(level, (*grounds, REPORT))
    if not grounds:
        raise Invalid(
            f"the referral meets no criterion: a checklist score of {thresholds.checklist_high}+, "
            "professional judgement of high risk with reasons, "
            f"{thresholds.escalation_incidents}+ incidents in {thresholds.escalation_window_days} days, or a repeat incident "
            "within 12 months of the last referral",
            field="checklist_score",
        )
    return Assessment(level, tuple(grounds))


def incidents_in_window(referral: ReferralIn, thresholds: ReferralThresholds, today: dt.date) -> int:
    """The incidents that count for escalation: those dated within the escalation window before
    the new incident, or the number typed when no dates are known."""
    if not referral.incident_dates:
        return referral.incidents_last_12_months
    incident = referral.last_incident_on or today
    window = dt.timedelta(days=thresholds.escalation_window_days)
    return sum(1 for when in referral.incident_dates if incident - window <= when <= incident)


def validate_people(people: list[PersonIn]) -> None:
    for i, person in enumerate(people):
        if person.role not in PERSON_ROLES:
            raise Invalid(f"person role must be one of {', '.join(PERSON_ROLES)}", field=f"people[{i}].role")
        if not person.name.strip():
            raise Invalid("every person needs a name", field=f"people[{i}].name")
        if (person.role == "target") != (person.target_kind is not None):
            raise Invalid("a target says whether it is a person, a group or a place (and only a target does)",
                          field=f"people[{i}].target_kind")
    if not any(p.role in ("survivor", "target") for p in people):
        raise Invalid("name the survivor (victim or target) of the case", field="people")


def validate_key_dates(key_dates: list[KeyDateIn]) -> None:
    for i, key_date in enumerate(key_dates):
        if key_date.kind not in KEY_DATE_KINDS:
            raise Invalid(f"key date kind must be one of {', '.join(KEY_DATE_KINDS)}", field=f"key_dates[{i}].kind")


def _validate(referral: ReferralIn, registry: AgencyRegistry) -> None:
    if referral.kind not in CASE_KINDS:
        raise Invalid(f"kind must be one of {', '.join(CASE_KINDS)}", field="kind")
    validate_people(referral.people)
    validate_key_dates(referral.key_dates)
    for agency in referral.agencies:
        if agency not in registry:
            raise Invalid(f"no agency {agency!r} is installed", field="agencies")
    if referral.lead_agency is not None and referral.lead_agency not in referral.agencies:
        raise Invalid("the lead agency must be one of the agencies involved", field="lead_agency")
    if referral.referring_agency is not None and referral.referring_agency not in registry:
        raise Invalid(f"no agency {referral.referring_agency!r} is installed", field="referring_agency")
    if referral.form is not None:
        if referral.checklist_score is not None:
            raise Invalid("the checklist score is counted from the referral form's 24 answers: leave it out",
                          field="checklist_score")
        referral_form.check(referral.form, any(p.role == "child" for p in referral.people), referral.referring_agency)
    today = dt.date.today()
    if any(when > today for when in referral.incident_dates):
        raise Invalid("an earlier incident cannot be dated in the future", field="incident_dates")
    reported_at = referral.reported_at
    # The year is checked first: comparing a time near year 1 across time zones overflows.
    if reported_at is not None and (reported_at.tzinfo is None or reported_at.year < EARLIEST_REPORT_YEAR
                                    or reported_at > dt.datetime.now(dt.UTC)):
        raise Invalid(f"give when the report came in, with its time zone, from {EARLIEST_REPORT_YEAR} and not in "
                      "the future", field="reported_at")


def last_referral(referral: ReferralIn, same: list[Case], today: dt.date) -> dt.date | None:
    """The last referral of her: that of the latest earlier case linked as the same person (computed
    from the links), else the date typed (a referral from before this system)."""
    incident = referral.last_incident_on or today
    linked = [c.created_at.date() for c in same if c.created_at.date() <= incident]
    return max([*linked, *([referral.last_referral_on] if referral.last_referral_on else [])], default=None)


async def create_case(
    session: AsyncSession, registry: AgencyRegistry, thresholds: ReferralThresholds,
    actor: Actor, referral: ReferralIn, today: dt.date, screening_due: ScreeningDeadline = ScreeningDeadline(),
) -> Case:
    """Create a case from a referral; each agency named is added with its task list. A member of a
    threat-assessment team opens a threat-assessment case from a report, naming the team's agencies; its
    screening is due within the time the team sets (``screening_due``)."""
    policy.require_case_opener(actor, referral.kind, referral.agencies)
    _validate(referral, registry)
    # A place or a group targeted is not someone who may be on an earlier case.
    people = [case_links.Person(p.role, p.name.strip(), p.born_on) for p in referral.people
              if p.target_kind in (None, "person")]
    if referral.add_to_case is not None:
        return await _add_to_open_case(session, actor, referral, people)
    same = await case_links.check_intake(session, people, referral.duplicates)
    referral = dataclasses.replace(referral, last_referral_on=last_referral(referral, same, today))
    form = referral.form
    if form is not None:
        referral = dataclasses.replace(referral, checklist_score=referral_form.score(form))
    assessment = assess_referral(referral, thresholds, today)
    reported_at = (referral.reported_at or dt.datetime.now(dt.UTC)) if referral.kind in ANY_REPORT_KINDS else None
    case = Case(
        reference=f"new-{secrets.token_hex(8)}", kind=referral.kind, risk_level=assessment.risk_level,
        checklist_score=referral.checklist_score, judgement_level=referral.judgement_level,
        judgement_reasons=referral.judgement_reasons,
        incidents_last_12_months=incidents_in_window(referral, thresholds, today),
        last_referral_on=referral.last_referral_on, last_incident_on=referral.last_incident_on,
        referral_grounds=",".join(assessment.grounds), referring_agency=referral.referring_agency,
        summary=referral.summary.strip(), concern=referral.concern.strip(), created_by_id=actor.id,
        reported_by=referral.reported_by.strip(), report_place=referral.report_place.strip(),
        immediate_danger=referral.immediate_danger,
        duty_explained_by=form.duty_explained_by.strip() if form else "",
        duty_explained_on=form.duty_explained_on if form else None,
        reported_at=reported_at,
        screening_due_at=screening_due.due(reported_at) if reported_at else None,
        people=[CasePerson(role=p.role, name=p.name.strip(), born_on=p.born_on, target_kind=p.target_kind)
                for p in referral.people],
        key_dates=[KeyDate(kind=k.kind, on=k.on, note=k.note) for k in referral.key_dates],
    )
    session.add(case)
    await session.flush()
    # Numbered from the id, so two coordinators creating cases at once never collide.
    case.reference = f"C-{today.year}-{case.id:04d}"
    await audit.record(session, actor, "case.created", case_id=case.id, subject=f"case:{case.id}",
                       risk_level=case.risk_level, grounds=list(assessment.grounds))
    if form is not None:
        await referral_form.record(session, actor, case, form)
    if referral.equality is not None:
        equality.record(session, case.id, referral.equality)
    for decision in referral.duplicates:
        await case_links.record_decision(session, actor, decision.case_id, case.id, decision.same)
    if referral.lead_agency is not None:
        # The lead is the role map's: held from the referral until a coordinator gives it to another agency.
        session.add(RoleAssignment(case_id=case.id, responsibility="lead_agency", agency=referral.lead_agency,
                                   assigned_by_id=actor.id))
    for agency in dict.fromkeys(referral.agencies):
        await join_case(session, registry, actor, case, agency, ground=INTAKE)
    return case


def _referral_note(referral: ReferralIn) -> str:
    """How the case's history states a referral added to it: from whom, and what it says."""
    note = "a new referral of the people on this case"
    if referral.referring_agency:
        note += f" from {referral.referring_agency}"
    return f"{note}: {referral.summary.strip()}" if referral.summary.strip() else note


async def _add_to_open_case(session: AsyncSession, actor: Actor, referral: ReferralIn,
                            people: list[case_links.Person]) -> Case:
    """Record the referral on the open case the intake check found for its people: one revision of
    that case (audited as ``case.referral_added``) holding what the referral says; no case is created."""
    policy.require_coordinator(actor, "add a referral to an open case")
    found = {c.case_id for c in await case_links.candidates(session, people)}
    if referral.add_to_case not in found:
        raise Invalid(f"case {referral.add_to_case} is not an existing case of the people referred: "
                      "only a case the check found can take the referral", field="add_to_case")
    case = await load_case(session, referral.add_to_case)
    if case.kind != referral.kind:
        raise Invalid(f"case {case.reference} is a {CASE_KINDS[case.kind].lower()} case: the referral is of "
                      "another kind", field="add_to_case")
    if not policy.is_open(case):
        raise Conflict(f"case {case.reference} is closed: reopen it, or open a new case linked to it",
                       field="add_to_case")
    added = {"referring_agency": referral.referring_agency, "checklist_score": referral.checklist_score,
             "judgement_level": referral.judgement_level, "last_incident_on": referral.last_incident_on,
             "summary": referral.summary.strip(), "people": [f"{p.role}: {p.name.strip()}" for p in referral.people]}
    later_incident = referral.last_incident_on and (case.last_incident_on is None
                                                     or referral.last_incident_on > case.last_incident_on)
    await transitions.move(session, actor, case, transitions.REFERRAL_ADDED, seen=case.version,
                           reason=_referral_note(referral), subject=f"case:{case.id}",
                           values={"last_incident_on": referral.last_incident_on} if later_incident else {},
                           changes={"referral": [None, {k: v for k, v in added.items() if v}]},
                           referring_agency=referral.referring_agency)
    return case


async def load_case(session: AsyncSession, case_id: int) -> Case:
    case = (await session.execute(
        select(Case).where(Case.id == case_id).execution_options(populate_existing=True)
        .options(selectinload(Case.people), selectinload(Case.key_dates), selectinload(Case.agencies))
    )).scalar()
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


async def case_for(session: AsyncSession, actor: Actor, case_id: int) -> Case:
    """The case, if the actor's agency is part of it (or the actor coordinates); else 404,
    so a case's existence is not revealed to agencies outside it."""
    case = await load_case(session, case_id)
    policy.require_case_visible(actor, agencies_of(case), f"case {case_id}")
    return case


def agencies_of(case: Case) -> list[str]:
    return [link.agency for link in case.agencies]


async def case_facts(session: AsyncSession, case: Case) -> CaseFacts:
    categories = (await session.execute(
        select(InformationItem.category).where(InformationItem.case_id == case.id).distinct()
    )).scalars().all()
    return CaseFacts(
        case_id=case.id, kind=case.kind, risk_level=case.risk_level, has_children=case.has_children,
        categories_recorded=frozenset(categories), key_dates=tuple((k.kind, k.on) for k in case.key_dates),
    )


MEETING = "meeting"  # DueOffset.before_the_meeting's anchor: such tasks are dated when a meeting is scheduled


@dataclass(frozen=True)
class DueContext:
    referred_at: dt.datetime
    meeting_on: dt.date | None


async def next_meeting_on(session: AsyncSession, case_id: int) -> dt.date | None:
    """The day of the next conference (not yet ended) with the case on its agenda, if any."""
    when = (await session.execute(
        select(func.min(Conference.scheduled_at)).join(AgendaItem, AgendaItem.conference_id == Conference.id)
        .where(AgendaItem.case_id == case_id, Conference.status != "ended"))).scalar()
    return when.date() if when is not None else None


async def due_context(session: AsyncSession, case: Case, templates: Iterable[TaskTemplate]) -> DueContext:
    """What the templates' due offsets count from: the referral and, only if one asks, the next meeting."""
    needs_meeting = any(t.due is not None and t.due.anchor == MEETING for t in templates)
    return DueContext(case.created_at, await next_meeting_on(session, case.id) if needs_meeting else None)


def task_from(case_id: int, agency: str, template: TaskTemplate, source: str, actor: Actor,
              due: DueContext | None = None) -> Task:
    """A task from an agency's template, dated by its due offset (if it has one)."""
    due_on = template.due.due_on(due.referred_at, due.meeting_on) if template.due and due else None
    return Task(case_id=case_id, agency=agency, title=template.title, domain=template.domain, duty=template.duty,
                source="standing" if template.standing else source, created_by_id=actor.id, due_on=due_on,
                due_rule=template.due.anchor if template.due else None, needs=template.needs,
                history=[TaskEvent(by_id=actor.id, status="open")])


async def add_listed_tasks(session: AsyncSession, listed: list[Task]) -> list[Task]:
    """Add tasks of the agencies' lists, each once: one that another change added meanwhile is
    skipped (the partial unique indexes on tasks decide, not a read before the insert)."""
    added = []
    for task in listed:
        try:
            async with session.begin_nested():
                session.add(task)
        except IntegrityError:
            continue
        added.append(task)
    return added


INTAKE = "intake"  # the ground of an agency named on the referral form
TEAM_NAMED = "team"  # the ground of an agency named among a threat-assessment team's agencies


async def join_case(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case, agency: str,
                    *, ground: str) -> None:
    """``agency`` becomes part of ``case`` on ``ground`` (recorded with it and in the audit): its
    plugin's task list is created, and open pages are told."""
    facts = await case_facts(session, case)
    templates = registry.task_list(agency, facts)
    # Two coordinators adding the same agency at once both pass add_agency's check; the unique
    # (case, agency) decides, inside a savepoint so the loser's transaction can still answer.
    try:
        async with session.begin_nested():
            session.add(CaseAgency(case_id=case.id, agency=agency, added_by_id=actor.id, ground=ground))
    except IntegrityError:
        raise Conflict(f"{registry.name(agency)} is already part of case {case.reference}", field="agency") from None
    # A shared duty is created once per case, whichever agency lists it first; who holds it is
    # then settled for every shared duty of the case (the joining agency may be a duty's fallback, or
    # take a responsibility by default that a duty follows).
    held = set((await session.execute(
        select(Task.duty).where(Task.case_id == case.id, Task.duty.is_not(None)))).scalars())
    due = await due_context(session, case, templates)
    new = await add_listed_tasks(session, [task_from(case.id, agency, t, "agency_list", actor, due)
                                           for t in templates if t.duty is None or t.duty not in held])
    await duties.take_default_roles(session, registry, actor, case.id, agency)
    await duties.settle(session, registry, actor, case.id)
    await audit.record(session, actor, "case.agency_added", case_id=case.id, subject=f"case:{case.id}",
                       agency=agency, ground=ground, tasks=len(new))
    await notifications.notify(session, notifications.case_notice(
        "referral", f"referral:case:{case.id}:{agency}", case.id, case.reference), agencies=[agency], not_to=actor.id)
    events.case_changed(session, case.id, "agencies", "tasks")


def ground_label(ground: str | None) -> str:
    """What an agency joined a case on, as people read it."""
    kind, _, ref = (ground or "").partition(":")
    labels = {"consent": f"her consent (#{ref})", "override": f"an override (#{ref})",
              "team": f"the team's recorded basis (#{ref})" if ref else "named among the team's agencies",
              "referral": f"a referral it accepted (#{ref})", INTAKE: "named on the referral form"}
    return labels.get(kind, "joined before grounds were recorded")


async def join_grounds(session: AsyncSession, registry: AgencyRegistry, case: Case) -> dict[str, str | None]:
    """For each installed agency not on the case, the ground it would join on now (None: none)."""
    grounds = await gate.joining_grounds(session, [case.id], utcnow())
    return {agency.key: policy.join_ground(case.kind, gate.grounds_for(grounds, case.id, agency.key))
            for agency in registry if agency.key not in agencies_of(case)}


async def add_agency(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int, agency: str) -> Case:
    """Add an agency to a case on her consent covering it, an approved override naming it or the
    team's recorded basis (recorded as its ground): its task list and standing duties are created."""
    policy.require_coordinator(actor, "add an agency to a case")  # before the case is read: its existence stays hidden
    case = await load_case(session, case_id)
    policy.require_case_coordinator(actor, case, "add an agency to a case")
    if agency not in registry:
        raise Invalid(f"no agency {agency!r} is installed", field="agency")
    if any(a.agency == agency for a in case.agencies):
        raise Conflict(f"{registry.name(agency)} is already part of case {case.reference}", field="agency")
    grounds = gate.grounds_for(await gate.joining_grounds(session, [case.id], utcnow()), case.id, agency)
    ground = policy.require_join_ground(registry.name(agency), case.kind, case.reference, grounds)
    await join_case(session, registry, actor, case, agency, ground=ground)
    case.version = Case.version + 1  # in SQL: two agencies added at once both count
    return case


def ensure_open(case: Case) -> None:
    policy.require_open(case)


_STATE = select(Case.reference, Case.closed_at).where(Case.id == bindparam("case_id"))  # built once: every change runs it


async def case_state(session: AsyncSession, case_id: int) -> policy.CaseState:
    """Whether the case is open (its reference and closing date), without loading it: enough for
    the rules that ask only that."""
    state = (await session.execute(_STATE, {"case_id": case_id})).first()
    if state is None:
        raise NotFound(f"no case {case_id}")
    return state


async def ensure_case_open(session: AsyncSession, case_id: int) -> None:
    """``ensure_open`` without loading the case."""
    policy.require_open(await case_state(session, case_id))


async def agencies_on(session: AsyncSession, case_id: int) -> list[str]:
    """The agencies part of a case, without loading the case."""
    return list((await session.execute(select(CaseAgency.agency).where(CaseAgency.case_id == case_id))).scalars())


async def visible_cases(session: AsyncSession, actor: Actor) -> list[Case]:
    """The cases on the actor's dashboard: their agency's, or all for coordinating roles."""
    query = (select(Case).options(selectinload(Case.people), selectinload(Case.key_dates), selectinload(Case.agencies))
             .order_by(Case.id.desc()))
    if not policy.coordinates(actor):
        query = query.where(Case.id.in_(select(CaseAgency.case_id).where(CaseAgency.agency == actor.agency)))
    return list((await session.execute(query)).scalars())

