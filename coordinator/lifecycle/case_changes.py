"""A case after its referral: edits, risk reassessment and stage moves, each a new version of
the case with who, when, why and what changed (the case's history).

Every change names the case version the person saw and is refused (409) when someone else
changed the case meanwhile: the compare is part of the UPDATE, so it holds across processes.
A rise in risk raises ``risk_raised`` and brings the case back to the next conference.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, policy, tasks
from coordinator.cases import RISK_LEVELS, KeyDateIn, PersonIn, level_from_score
from coordinator.errors import Conflict, Invalid
from coordinator.lifecycle import case_events, transitions
from coordinator.lifecycle.transitions import OPEN_STAGES
from coordinator.limits import Count, Id, Key, ListOf, OneOf, Text, Written
from coordinator.models import Case, CasePerson, CaseRevision, KeyDate, PersonNameKey, User
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import ReferralThresholds

NO_REASON = "say why the case changes: the history keeps the reason"


@dataclass
class CaseEditIn:
    """What changes; a field left out stays as it is. ``people`` and ``key_dates`` replace the lists."""

    version: Count
    reason: Written(2000, NO_REASON)
    summary: Text() | None = None
    people: ListOf(50, PersonIn) | None = None
    key_dates: ListOf(20, KeyDateIn) | None = None
    caseworker_id: Id | None = None
    concern: Text() | None = None  # a threat assessment: what the team is concerned about
    # A threat assessment: the agencies of its team. Agencies join (a coordinator's decision, with
    # their task lists); none leaves through an edit.
    team: ListOf(20, Key) | None = None


THREAT_ASSESSMENT = "threat_assessment"


def _check_people_for_kind(kind: str, people: list[PersonIn]) -> None:
    """A threat assessment names its subject and its targets; it has no survivor and no household."""
    if kind != THREAT_ASSESSMENT:
        return
    for i, person in enumerate(people):
        if person.role in ("survivor", "child"):
            raise Invalid("a threat-assessment case names its subject and its targets: it has no survivor or children",
                          field=f"people[{i}].role")
    if not any(p.role == "target" for p in people):
        raise Invalid("name at least one target (a person, a group or a place)", field="people")


def _joining_team(registry: AgencyRegistry, actor: Actor, case: Case, team: list[str]) -> list[str]:
    """The agencies of ``team`` not yet on the case, checked before anything is written."""
    on_case = cases.agencies_of(case)
    leaving = [agency for agency in on_case if agency not in team]
    if leaving:
        raise Invalid(f"{', '.join(registry.name(a) for a in leaving)} cannot leave the team through an edit: "
                      "keep every agency already on the case", field="team")
    joining = list(dict.fromkeys(agency for agency in team if agency not in on_case))
    for agency in joining:
        if agency not in registry:
            raise Invalid(f"no agency {agency!r} is installed", field="team")
    if joining:
        policy.require_coordinator(actor, "add an agency to the team")
    return joining


@dataclass
class ReassessmentIn:
    """A new checklist score and/or professional judgement (with its reasons)."""

    version: Count
    reason: Written(2000, NO_REASON)
    checklist_score: Count | None = None
    judgement_level: OneOf(RISK_LEVELS) | None = None
    judgement_reasons: Text() | None = None


@dataclass
class StageIn:
    version: Count
    stage: OneOf(OPEN_STAGES, "closing a case is its own step: request its closure")
    reason: Written(2000, NO_REASON)


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise Invalid(NO_REASON, field="reason")
    return reason


async def _editable(session: AsyncSession, actor: Actor, case_id: int, doing: str) -> Case:
    case = await cases.case_for(session, actor, case_id)
    policy.require_case_work(actor, case, doing)
    return case


async def _new_version(session: AsyncSession, case: Case, seen: int, **values: object) -> int:
    """Write ``values`` to the case if it is still at version ``seen``; the new version."""
    changed = await session.execute(
        update(Case).where(Case.id == case.id, Case.version == seen, Case.closed_at.is_(None))
        .values(version=seen + 1, **values))
    if changed.rowcount != 1:
        await session.refresh(case)
        policy.require_open(case)
        raise Conflict(f"case {case.reference} was changed by someone else meanwhile (you saw version {seen}, it is "
                       f"now version {case.version}): reload it and try again", field="version")
    return seen + 1


async def _record(session: AsyncSession, actor: Actor, case: Case, version: int, kind: str, reason: str,
                  changes: dict[str, list]) -> CaseRevision:
    revision = CaseRevision(case_id=case.id, version=version, kind=kind, reason=reason,
                            changes=json.dumps(changes, default=str, sort_keys=True), by_id=actor.id)
    session.add(revision)
    # The audit names the fields, never their values: those are personal and stay in the case file.
    await audit.record(session, actor, f"case.{kind}", case_id=case.id, subject=f"case:{case.id}",
                       version=version, fields=sorted(changes))
    events.case_changed(session, case.id, "case")
    return revision


def _people(people: list[PersonIn]) -> list[tuple]:
    return [(p.role, p.name, p.born_on, p.target_kind) for p in people]


def _dates(key_dates: list[KeyDateIn]) -> list[tuple]:
    return [(k.kind, k.on, k.note) for k in key_dates]


async def edit_case(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                    edit: CaseEditIn) -> Case:
    """Change the case's people, key dates, summary or caseworker (a coordinator or the lead agency)."""
    case = await _editable(session, actor, case_id, "edit the case")
    reason = _reason(edit.reason)
    changes: dict[str, list] = {}
    values: dict[str, object] = {}
    if edit.people is not None:
        cases.validate_people(edit.people)
        _check_people_for_kind(case.kind, edit.people)
        people = [PersonIn(p.role, p.name.strip(), p.born_on, p.target_kind) for p in edit.people]
        if _people(people) != _people(case.people):
            changes["people"] = [_people(case.people), _people(people)]
    if edit.key_dates is not None:
        cases.validate_key_dates(edit.key_dates)
        if _dates(edit.key_dates) != _dates(case.key_dates):
            changes["key_dates"] = [_dates(case.key_dates), _dates(edit.key_dates)]
    if edit.summary is not None and edit.summary.strip() != case.summary:
        changes["summary"] = [case.summary, values.setdefault("summary", edit.summary.strip())]
    if edit.concern is not None and edit.concern.strip() != case.concern:
        if case.kind == THREAT_ASSESSMENT and not edit.concern.strip():
            raise Invalid("say what the team is concerned about", field="concern")
        changes["concern"] = [case.concern, values.setdefault("concern", edit.concern.strip())]
    if edit.team is not None and set(edit.team) != set(cases.agencies_of(case)):
        if case.kind != THREAT_ASSESSMENT:
            raise Invalid("only a threat-assessment case has a team: add an agency to the case instead", field="team")
        changes["team"] = [cases.agencies_of(case), sorted(set(edit.team))]
        joining = _joining_team(registry, actor, case, edit.team)
    if edit.caseworker_id is not None and edit.caseworker_id != case.caseworker_id:
        worker = await session.get(User, edit.caseworker_id)
        if worker is None or not worker.active or not policy.on_case(worker.agency, cases.agencies_of(case)):
            raise Invalid("the caseworker must be an active person of an agency on the case", field="caseworker_id")
        changes["caseworker_id"] = [case.caseworker_id, values.setdefault("caseworker_id", worker.id)]
    if not changes:
        raise Invalid("nothing to change: every field given is as it already is", field="version")
    version = await _new_version(session, case, edit.version, **values)
    if "people" in changes:
        await session.execute(delete(PersonNameKey).where(PersonNameKey.case_id == case.id))
        await session.execute(delete(CasePerson).where(CasePerson.case_id == case.id))
        session.add_all([CasePerson(case_id=case.id, role=p.role, name=p.name, born_on=p.born_on,
                                    target_kind=p.target_kind) for p in people])
    if "key_dates" in changes:
        await session.execute(delete(KeyDate).where(KeyDate.case_id == case.id))
        session.add_all([KeyDate(case_id=case.id, kind=k.kind, on=k.on, note=k.note) for k in edit.key_dates])
    if "team" in changes:
        for agency in joining:  # with their task lists, as when a coordinator adds an agency
            await cases.join_case(session, registry, actor, case, agency, ground=cases.TEAM_NAMED)
    await _record(session, actor, case, version, "edited", reason, changes)
    await tasks.follow_case(session, registry, actor, case.id)
    return case


def reassessed_level(data: ReassessmentIn, previous_score: int | None, thresholds: ReferralThresholds) -> str:
    """The level a reassessment gives: the checklist's (the 14+ rule), which professional
    judgement with reasons may raise but never lower."""
    score = data.checklist_score if data.checklist_score is not None else previous_score
    if score is not None and score > 24:
        raise Invalid("the risk checklist score counts 'yes' answers of 24: give 0 to 24", field="checklist_score")
    level = level_from_score(score, thresholds)
    if data.judgement_level is None:
        return level
    if not (data.judgement_reasons or "").strip():
        raise Invalid("professional judgement needs its reasons recorded", field="judgement_reasons")
    if RISK_LEVELS.index(data.judgement_level) < RISK_LEVELS.index(level):
        raise Invalid(f"professional judgement may raise the risk level but never lower it: the checklist gives "
                      f"{level}", field="judgement_level")
    return data.judgement_level


async def reassess_risk(session: AsyncSession, registry: AgencyRegistry, thresholds: ReferralThresholds,
                        actor: Actor, case_id: int, data: ReassessmentIn, today: dt.date) -> Case:
    """Record a risk reassessment; a rise raises ``risk_raised``."""
    case = await _editable(session, actor, case_id, "reassess the risk")
    reason = _reason(data.reason)
    if data.checklist_score is None and data.judgement_level is None:
        raise Invalid("give a new checklist score, a professional judgement, or both", field="checklist_score")
    level = reassessed_level(data, case.checklist_score, thresholds)
    previous = case.risk_level
    values = {"risk_level": level, "judgement_level": data.judgement_level,
              "judgement_reasons": (data.judgement_reasons or "").strip() or None}
    if data.checklist_score is not None:
        values["checklist_score"] = data.checklist_score
    changes = {name: [getattr(case, name), value] for name, value in values.items() if getattr(case, name) != value}
    version = await _new_version(session, case, data.version, **values)
    await _record(session, actor, case, version, "reassessed", reason, changes)
    await session.refresh(case)
    await tasks.follow_case(session, registry, actor, case.id)
    if RISK_LEVELS.index(level) > RISK_LEVELS.index(previous):
        await case_events.raise_event(session, registry, actor, case, "risk_raised", subject=f"version:{version}",
                                      occurs_on=today, previous_level=previous)
    return case


async def risk_found_at_contact(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case: Case,
                                level: str, follow_up_id: int, on: dt.date) -> None:
    """A safety reassessment at a follow-up contact that finds a higher risk raises the case's level
    (a lower one waits for a full reassessment: the checklist rule decides a fall)."""
    previous = case.risk_level
    if RISK_LEVELS.index(level) <= RISK_LEVELS.index(previous):
        return
    version = await _new_version(session, case, case.version, risk_level=level)
    await _record(session, actor, case, version, "reassessed", f"safety reassessment at follow-up {follow_up_id}",
                  {"risk_level": [previous, level]})
    await session.refresh(case)
    await tasks.follow_case(session, registry, actor, case.id)
    await case_events.raise_event(session, registry, actor, case, "risk_raised", subject=f"follow_up:{follow_up_id}",
                                  occurs_on=on, previous_level=previous)


async def move_stage(session: AsyncSession, actor: Actor, case_id: int, data: StageIn) -> Case:
    """Move the case to another stage (forward, or back with the reason saying why)."""
    case = await _editable(session, actor, case_id, "move the case to another stage")
    reason = _reason(data.reason)
    if data.stage not in OPEN_STAGES:
        raise Invalid("closing a case is its own step: request its closure", field="stage")
    if data.stage == case.stage:
        raise Invalid(f"the case is already at the stage {data.stage.replace('_', ' ')}", field="stage")
    await transitions.move(session, actor, case, transitions.STAGE_MOVE, seen=data.version, reason=reason,
                           to=data.stage)
    return case


async def history(session: AsyncSession, case_id: int, limit: int | None = None) -> list[CaseRevision]:
    """The case's revisions, newest first, the latest ``limit`` of them if given (the caller has
    checked the case is visible)."""
    return list((await session.execute(
        select(CaseRevision).where(CaseRevision.case_id == case_id).order_by(CaseRevision.version.desc())
        .limit(limit))).scalars())

