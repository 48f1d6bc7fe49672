"""Retention: a closed case is kept for the retention period (a setting); then its text and the
personal details in it are removed, leaving the structure (who held which task, which consent
covered what, who saw which item) and the audit chain, which never held them and stays
verifiable. A case is due only while it is still closed and its closure is older than the
period; reopening a case takes it out of reach (its closure is no longer in force).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, MetaData, String, Text, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit
from coordinator.models import (
    AuditEntry,
    Case,
    CasePerson,
    CaseRevision,
    Closure,
    ConferenceNote,
    Consent,
    ConsentWithdrawal,
    EqualityAnswers,
    IdempotencyKey,
    InformationItem,
    KeyDate,
    MandatoryReport,
    Override,
    PersonNameKey,
    PlanAcknowledgement,
    RaisedEvent,
    Referral,
    ReferralEvent,
    Reopening,
    ResearchReturn,
    SearchQuery,
    Task,
    TaskEvent,
    TaskSignOff,
    ThreatScreening,
    Transfer,
)
from coordinator.policy import SYSTEM

REMOVED = "[removed]"
APPLIED = "retention.applied"
# Task titles a person typed (the agencies' own lists hold no personal detail).
TYPED_TASK_SOURCES = ("coordinator", "conference", "follow_up", "plan")


@dataclass(frozen=True)
class Due:
    case_id: int
    reference: str
    closed_at: dt.datetime


async def due(session: AsyncSession, now: dt.datetime, retention_days: int) -> list[Due]:
    """Closed cases whose closure is older than the period and whose text is not yet removed."""
    done = select(AuditEntry.case_id).where(AuditEntry.action == APPLIED)
    rows = (await session.execute(
        select(Case.id, Case.reference, Case.closed_at)
        .where(Case.closed_at.is_not(None), Case.closed_at <= now - dt.timedelta(days=retention_days),
               Case.id.not_in(done)).order_by(Case.id))).all()
    return [Due(*row) for row in rows]


@dataclass(frozen=True)
class Erasure:
    """Text columns of one table that retention overwrites on a case's rows (with the value given:
    REMOVED where the column must not be empty, "" or None otherwise); ``only`` narrows the rows."""

    model: type
    values: dict[str, object]
    only: tuple = ()


# Rows that hold no case id themselves belong to the case through the row they hang on.
_THROUGH = {ConsentWithdrawal: (ConsentWithdrawal.consent_id, Consent),
            ReferralEvent: (ReferralEvent.referral_id, Referral),
            TaskEvent: (TaskEvent.task_id, Task)}

ERASED = (
    Erasure(Case, {"summary": "", "concern": "", "judgement_reasons": None, "reported_by": "", "report_place": "",
                   "duty_explained_by": ""}),
    Erasure(EqualityAnswers, {"ethnicity_detail": ""}),
    Erasure(MandatoryReport, {"to_whom": REMOVED, "duty": REMOVED}),
    Erasure(ThreatScreening, {"reasons": REMOVED, "decision_note": None}),
    Erasure(CasePerson, {"name": REMOVED, "born_on": None}),
    Erasure(PersonNameKey, {"key": ""}),  # how her name sounded is her name too
    Erasure(KeyDate, {"note": ""}),
    Erasure(InformationItem, {"text": "", "not_shared_reason": None}),
    Erasure(ResearchReturn, {"reason": None}),
    Erasure(CaseRevision, {"reason": REMOVED, "changes": "{}"}),
    Erasure(RaisedEvent, {"note": ""}),
    Erasure(ConferenceNote, {"text": REMOVED}),
    Erasure(Consent, {"given_by": REMOVED, "purpose": REMOVED}),
    Erasure(ConsentWithdrawal, {"note": ""}),
    Erasure(Override, {"justification": REMOVED, "decision_note": None, "not_informed_reason": None}),
    Erasure(Closure, {"reasons": REMOVED, "decision_note": None}),
    Erasure(Reopening, {"reason": REMOVED}),
    Erasure(Referral, {"purpose": REMOVED, "notes": "", "outcome": None, "decline_reason": None}),
    Erasure(ReferralEvent, {"note": ""}),
    Erasure(PlanAcknowledgement, {"reason": REMOVED}),
    Erasure(Task, {"reason": None}),
    Erasure(Task, {"title": REMOVED}, only=(Task.source.in_(TYPED_TASK_SOURCES),)),
    Erasure(TaskEvent, {"reason": None}),
    Erasure(TaskSignOff, {"reason": None, "tasks": "[]"}),  # its tasks' titles too
    # What a transfer carried of her: the consents' words, the history's reasons, the PDF summary.
    Erasure(Transfer, {"consents": "[]", "history": "[]", "summary_pdf": None}),
)

# Every other text column, with why it may outlive the case's text: a test checks that each text
# column of the schema is erased above or kept here, so a new one cannot slip through unnoticed.
_KEPT_BY_REASON = {
    "a key or code from a fixed list (kind, status, role, agency, category, basis), never typed text": (
        "agenda_items.group", "agenda_items.status", "case_agencies.agency", "case_events.event",
        "case_events.subject", "case_key_dates.kind", "case_people.role", "case_people.target_kind",
        "case_revisions.kind", "cases.judgement_level", "cases.kind", "cases.monitoring_status",
        "cases.referral_grounds", "cases.referring_agency", "cases.risk_level", "cases.stage",
        "closures.criterion", "closures.status", "conference_notes.kind", "conferences.status",
        "consent_scopes.category", "consent_scopes.recipient", "consents.method", "disclosures.basis",
        "disclosures.channel", "disclosures.viewer_agency", "follow_ups.agency", "follow_ups.method",
        "follow_ups.outcome", "follow_ups.updated_risk", "information_items.agency", "information_items.category",
        "information_items.nature", "information_items.sensitivity", "information_items.sharing",
        "research_returns.agency", "research_returns.outcome", "override_scopes.category",
        "override_scopes.recipient", "overrides.legal_basis", "overrides.status", "participants.agency",
        "participants.role", "plan_acknowledgements.strategies", "referral_events.status", "referrals.status",
        "referrals.to_agency", "role_assignments.agency", "role_assignments.responsibility",
        "role_assignments.status", "survey_administrations.mode", "task_events.status", "tasks.agency",
        "tasks.domain", "tasks.due_rule", "tasks.duty", "tasks.fulfilled_by", "tasks.needs", "tasks.source",
        "tasks.status", "tasks.strategy", "case_agencies.ground",
        "threat_screenings.level", "threat_screenings.participants", "threat_screenings.status",
        "team_bases.legal_basis", "team_roles.role", "team_roles.agency",
        "task_sign_offs.agency", "task_sign_offs.decision"),
    "the case's reference: the audit chain and the register name cases by it": (
        "cases.reference", "transfers.earlier_references"),
    "a transfer's provenance: which bundle, which way, between which MARACs, sent by which staff member, on "
    "which basis (a consent's or an override's id and legal basis key), never her words": (
        "transfers.bundle_id", "transfers.direction", "transfers.deployment", "transfers.sent_by", "transfers.basis"),
    "this deployment's signing key for transfers: about no case": (
        "transfer_keys.private_key", "transfer_keys.public_key"),
    "fixed sentences written by the server (file review findings, agenda reasons), never personal": (
        "closures.missing_items", "hearing_requests.reason"),
    "the role map kept at closure: responsibility keys, agency keys and statuses, restored on reopening": (
        "closures.role_map",),
    "the audit chain records ids, kinds and bases only, and must stay verifiable": (
        "audit_log.action", "audit_log.actor_agency", "audit_log.detail", "audit_log.hash", "audit_log.prev_hash",
        "audit_log.subject"),
    "about staff, services and meetings of many cases, not about one case": (
        "api_tokens.token_hash", "conferences.title", "live_connections.process", "login_failures.address",
        "login_failures.username", "services.agency", "services.area", "services.contact", "services.kind",
        "services.name", "services.offers", "users.agency", "users.display_name", "users.password_hash",
        "users.role", "users.username", "users.totp_secret", "web_sessions.key", "web_sessions.user_agent",
        "web_sessions.address", "recovery_codes.code_hash", "password_links.token_hash", "users.email",
        "webhook_endpoints.agency", "webhook_endpoints.url", "webhook_endpoints.secret"),
    "her equality answers: fixed choices, read only to count in the quarterly figures of the periods past": (
        "equality_answers.ethnicity", "equality_answers.disability", "equality_answers.sexual_orientation",
        "equality_answers.gender", "equality_answers.age_16_17"),
    "the notification outbox: an event's kind and key, a case reference, a link, a recipient and an error "
    "from the mail server or endpoint, never case content": (
        "notifications.event_key", "notifications.kind", "notifications.reference", "notifications.link",
        "notifications.channel", "notifications.recipient", "notifications.status", "notifications.last_error"),
    "passkeys and the people waiting to be let in by single sign-on: account data, never case content": (
        "passkeys.credential_id", "passkeys.name", "sign_in_requests.agency", "sign_in_requests.username",
        "sign_in_requests.display_name"),
    "her survey answers: fixed choices, stored by month and never linked to a case": (
        "survey_responses.answers", "survey_responses.period"),
    "what someone searched for: deleted whole by retention --apply after the search log's period": (
        "search_queries.text",),
    "stored answers to retried requests: deleted whole by retention --apply": (
        "idempotency_keys.key", "idempotency_keys.media_type", "idempotency_keys.request",
        "idempotency_keys.fingerprint"),
}
KEPT = {column: reason for reason, columns in _KEPT_BY_REASON.items() for column in columns}


def erased_columns() -> set[str]:
    """``table.column`` of every column retention overwrites."""
    return {f"{erasure.model.__tablename__}.{name}" for erasure in ERASED for name in erasure.values}


def text_columns(metadata: MetaData) -> set[str]:
    """``table.column`` of every text column of the schema."""
    return {f"{table.name}.{column.name}" for table in metadata.sorted_tables for column in table.columns
            if isinstance(column.type, String | Text)}


def uncovered(metadata: MetaData) -> set[str]:
    """Text columns that retention neither erases nor lists as kept: each may hold her words for ever."""
    return text_columns(metadata) - erased_columns() - set(KEPT)


def _rows_of_case(model: type, case_id: int) -> ColumnElement[bool]:
    if model is Case:
        return Case.id == case_id
    if model in _THROUGH:
        link, parent = _THROUGH[model]
        return link.in_(select(parent.id).where(parent.case_id == case_id))
    return model.case_id == case_id


async def remove_text(session: AsyncSession, case_id: int) -> None:
    """Remove the case's free text and personal details, table by table, in one transaction."""
    for erasure in ERASED:
        await session.execute(update(erasure.model).where(_rows_of_case(erasure.model, case_id), *erasure.only)
                              .values(**erasure.values))


async def apply(session: AsyncSession, now: dt.datetime, retention_days: int, search_log_days: int = 365) -> list[Due]:
    """Remove the text of every case due; the removal is recorded in the audit (ids only).
    Stored answers to retried requests are dropped too: they are copies of what was sent; and the
    words of searches older than the search log's period (their audit entries stay)."""
    await session.execute(delete(SearchQuery).where(SearchQuery.at < now - dt.timedelta(days=search_log_days)))
    found = await due(session, now, retention_days)
    for case in found:
        await remove_text(session, case.case_id)
        await audit.record(session, SYSTEM, APPLIED, case_id=case.case_id, subject=f"case:{case.case_id}",
                           closed_at=case.closed_at, retention_days=retention_days)
    if found:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now))
    return found
