"""The database schema. Agencies appear only as string keys (the plugin's entry point name)."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    delete,
    event,
    insert,
    text,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from coordinator.names import sound_keys

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC, always read back as aware UTC: SQLite keeps no time zone, and
    comparing naive with aware datetimes would fail only on one database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):  # noqa: ANN001
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime}


AgencyKey = String(64)


# --- people and access -------------------------------------------------------------------

class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str | None] = mapped_column(AgencyKey)  # None only for administrators
    role: Mapped[str] = mapped_column(String(20))  # member, coordinator, supervisor, admin
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The second factor (TOTP): its base32 secret once enrolled, and the last time step a code
    # was accepted for, so a code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column()
    # Notifications outside the app: where e-mail goes (none: no e-mail), whether the events that
    # concern her also go to her agency's own system (its webhooks), and once a day or at once.
    email: Mapped[str | None] = mapped_column(String(254))
    notify_by_email: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    notify_by_webhook: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_text("true"))
    notify_daily: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sql_text("false"))


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex; the token itself is never stored
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class LoginFailure(Base):
    """Failed logins, counted per (username, client address) in a sliding window to throttle
    guessing from one place without locking the person out everywhere."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), index=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """Server-side session store: survives restarts and is shared by every server process."""

    __tablename__ = "web_sessions"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Whose session it is, so deactivation can end them all; sessions exist only once logged in.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)  # swept when past
    # Shown on the person's own account page, so she can tell her sessions apart and end one.
    created_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(64))


class RecoveryCode(Base):
    """A single-use code that stands in for the second factor; only its digest is stored."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[dt.datetime | None] = mapped_column()


class Passkey(Base):
    """A passkey (WebAuthn credential) registered as a second factor: its public key and the
    authenticator's signature counter, which must grow with each use (a cloned key repeats it)."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url of at most 1023 bytes
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE-encoded
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(100))  # hers, to tell her keys apart
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column()


class SignInRequest(Base):
    """Someone her agency's provider vouched for, without an account here yet: she waits for an
    administrator to let her in (an account is never made with rights nobody gave)."""

    __tablename__ = "sign_in_requests"
    __table_args__ = (UniqueConstraint("agency", "username"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency: Mapped[str] = mapped_column(AgencyKey)
    username: Mapped[str] = mapped_column(String(80))  # the provider's value of the matching claim
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PasswordLink(Base):
    """A one-time link to set a password, issued by an administrator; only its digest is stored."""

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()


class IdempotencyKey(Base):
    """A create request sent with an ``Idempotency-Key`` header: claimed (no answer yet) before
    its handler runs, so a twin sent at once waits for its answer; then its first answer, stored
    with the change it answers (same transaction), so a retry after a lost answer gets it again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)  # one claim per key: the twin's insert fails

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request: Mapped[str] = mapped_column(String(400))  # method and path: a key reused elsewhere is refused
    # SHA-256 of the query and body: the same key with another body is refused. None on keys
    # stored before fingerprints were (matched on method and path alone).
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while the request is in flight
    media_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A refusal (nothing written): given to the twins that waited for it, not to later retries.
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


# --- cases ---------------------------------------------------------------------------------

class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40))  # domestic_abuse, threat_assessment
    stage: Mapped[str] = mapped_column(String(40), default="referral")
    risk_level: Mapped[str] = mapped_column(String(20))  # standard, medium, high
    checklist_score: Mapped[int | None] = mapped_column(Integer)
    judgement_level: Mapped[str | None] = mapped_column(String(20))
    judgement_reasons: Mapped[str | None] = mapped_column(Text)
    incidents_last_12_months: Mapped[int] = mapped_column(Integer, default=0)
    last_referral_on: Mapped[dt.date | None] = mapped_column(Date)
    last_incident_on: Mapped[dt.date | None] = mapped_column(Date)
    referral_grounds: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    referring_agency: Mapped[str | None] = mapped_column(AgencyKey)
    # The survivor's named caseworker (by default whoever holds victim contact).
    caseworker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Threat-assessment cases: the concern, and monitoring (active, long_term with a review
    # interval that brings the case back to the agenda, or closed; not a case closure).
    concern: Mapped[str] = mapped_column(Text, default="")
    monitoring_status: Mapped[str | None] = mapped_column(String(20))
    monitoring_review_days: Mapped[int | None] = mapped_column(Integer)
    monitoring_review_on: Mapped[dt.date | None] = mapped_column(Date)
    # A threat-assessment case opens from a report: who reported, when, where, and whether anyone
    # was in immediate danger (the concern says what was said or done; the people, who is involved).
    reported_by: Mapped[str] = mapped_column(String(200), default="")
    reported_at: Mapped[dt.datetime | None] = mapped_column()
    report_place: Mapped[str] = mapped_column(String(200), default="")
    immediate_danger: Mapped[bool] = mapped_column(Boolean, default=False)
    # Mandatory reporting: who told her of the duty to report, and on which day (the referral form asks).
    duty_explained_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    duty_explained_on: Mapped[dt.date | None] = mapped_column(Date)
    # When the report's screening is due: the team's setting at the time of the report.
    screening_due_at: Mapped[dt.datetime | None] = mapped_column()
    reopened_at: Mapped[dt.datetime | None] = mapped_column()
    summary: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    people: Mapped[list[CasePerson]] = relationship(back_populates="case", order_by="CasePerson.id")
    key_dates: Mapped[list[KeyDate]] = relationship(back_populates="case", order_by="KeyDate.on")
    agencies: Mapped[list[CaseAgency]] = relationship(back_populates="case", order_by="CaseAgency.id")
    # The lead agency is the role map's "lead_agency" responsibility: one record, loaded with the case.
    lead_role: Mapped[RoleAssignment | None] = relationship(
        primaryjoin="and_(Case.id == RoleAssignment.case_id, RoleAssignment.responsibility == 'lead_agency', "
                    "RoleAssignment.ended_at.is_(None))",
        viewonly=True, lazy="selectin", uselist=False)

    @property
    def has_children(self) -> bool:
        return any(p.role == "child" for p in self.people)

    @property
    def lead_agency(self) -> str | None:
        return self.lead_role.agency if self.lead_role else None

    @property
    def survivor_initials(self) -> str:
        """How a list tells cases apart without spelling out a name: "N. B."."""
        survivor = next((p for p in self.people if p.role in ("survivor", "target")), None)
        return " ".join(f"{part[0]}." for part in survivor.name.split()) if survivor else ""

    @property
    def summary_line(self) -> str:
        return self.summary.strip().splitlines()[0] if self.summary.strip() else ""


class CaseRevision(Base):
    """One change of a case's own record (its people, key dates, summary, risk, stage, lead),
    with who, when, why and each field's value before and after: the case's history."""

    __tablename__ = "case_revisions"
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # the case's version this change made
    kind: Mapped[str] = mapped_column(String(20))  # edit, risk, stage, lead
    reason: Mapped[str] = mapped_column(Text)
    changes: Mapped[str] = mapped_column(Text)  # JSON: field -> [before, after]
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def changed_fields(self) -> list[str]:
        return sorted(json.loads(self.changes))


class RaisedEvent(Base):
    """A case event raised, once: the unique key (case, event, subject, date) is what makes the
    monitor safe to run in several processes at once and to run again after a restart."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "event", "subject", "occurs_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))  # the hook's name without "case_"
    subject: Mapped[str] = mapped_column(String(80))  # what it is about: "key_date:3", "task:9", "kind:loss"
    occurs_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")  # what someone recorded; case data, never audited
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the monitor
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    tasks_added: Mapped[int] = mapped_column(Integer, default=0)


PENDING_SCREENING = "status = 'pending'"


class ThreatScreening(Base):
    """One classification of a threat-assessment case by its team: the first screening is version 1,
    each re-classification the next version (never an edit), so the history keeps them all."""

    __tablename__ = "threat_screenings"
    # At most one classification per case awaits the lead's approval: the database decides between two at once.
    __table_args__ = (UniqueConstraint("case_id", "version"),
                      Index("uq_threat_screenings_one_pending", "case_id", unique=True,
                            sqlite_where=text(PENDING_SCREENING), postgresql_where=text(PENDING_SCREENING)))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(60))  # one of the setting COORDINATOR_THREAT_LEVELS
    reasons: Mapped[str] = mapped_column(Text)
    participants: Mapped[str] = mapped_column(Text, default="[]")  # JSON: ids of the users who took part
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # approved: the case's level (recorded by the team lead, approved by her, or on a team without a lead);
    # pending: recorded by someone else, awaiting the lead; refused: the lead kept the level before it.
    status: Mapped[str] = mapped_column(String(20), default="approved")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decision_note: Mapped[str | None] = mapped_column(Text)  # why the lead refused it

    @property
    def participant_ids(self) -> list[int]:
        return json.loads(self.participants)


class TeamBasis(Base):
    """A threat-assessment team's legal basis for sharing the case's information within the team
    (one of the setting COORDINATOR_TEAM_SHARING_BASES), recorded by its approver. The gate honours
    it for the agencies on the case only; removing it withdraws it at once. At most one in force
    per case (a partial unique index)."""

    __tablename__ = "team_bases"
    __table_args__ = (Index("uq_team_bases_in_force", "case_id", unique=True,
                            sqlite_where=text("removed_at IS NULL"), postgresql_where=text("removed_at IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    legal_basis: Mapped[str] = mapped_column(String(60))
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removed_at: Mapped[dt.datetime | None] = mapped_column()


ROLE_IN_FORCE = "ended_at IS NULL"
TEAM_LEAD_IN_FORCE = "role = 'lead' AND ended_at IS NULL"
CASE_MANAGER_IN_FORCE = "role = 'case_manager' AND ended_at IS NULL"


class TeamRole(Base):
    """A person's role on a threat-assessment case's team: its lead (who approves the classification and
    the closure), its case manager, or a member of the team for her agency. Roles are never edited: a change
    ends the role held (``ended_at``) and starts a new one, so the history keeps who held what when. One lead
    and one case manager in force per case, and one role in force per person (partial unique indexes)."""

    __tablename__ = "team_roles"
    __table_args__ = (
        Index("uq_team_roles_one_lead", "case_id", unique=True,
              sqlite_where=text(TEAM_LEAD_IN_FORCE), postgresql_where=text(TEAM_LEAD_IN_FORCE)),
        Index("uq_team_roles_one_case_manager", "case_id", unique=True,
              sqlite_where=text(CASE_MANAGER_IN_FORCE), postgresql_where=text(CASE_MANAGER_IN_FORCE)),
        Index("uq_team_roles_one_per_person", "case_id", "user_id", unique=True,
              sqlite_where=text(ROLE_IN_FORCE), postgresql_where=text(ROLE_IN_FORCE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))  # lead, case_manager, member
    agency: Mapped[str] = mapped_column(AgencyKey)  # the agency she is on the team for
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[dt.datetime | None] = mapped_column()


class HearingRequest(Base):
    """The "to be heard" queue: a case that should come back to the next conference, and why.
    Scheduling a conference offers the queue; placing the case on an agenda answers the request."""

    __tablename__ = "hearing_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(String(300))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    conference_id: Mapped[int | None] = mapped_column(ForeignKey("conferences.id"))  # set once placed


class FollowUp(Base):
    """A planned contact with the survivor (GBV step 5) and, once attempted, its outcome. What is
    said (the safe-contact words, the reassessment answers, services, new needs) is information
    held by the contacting agency: the plan and outcome notes are items, read through the gate."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str] = mapped_column(AgencyKey)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    planned_on: Mapped[dt.date] = mapped_column(Date, index=True)
    method: Mapped[str] = mapped_column(String(20))  # phone, visit, text, email, in_person
    safe_to_call: Mapped[bool] = mapped_column(Boolean)
    plan_item_id: Mapped[int | None] = mapped_column(ForeignKey("information_items.id"))
    outcome: Mapped[str | None] = mapped_column(String(20))  # reached, not_reached, unsafe_to_contact
    attempted_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_risk: Mapped[str | None] = mapped_column(String(20))
    outcome_item_id: Mapped[int | None] = mapped_column(ForeignKey("information_items.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class PlanAcknowledgement(Base):
    """Why a threat-assessment plan keeps a separation strategy without containment or support:
    the warning stands until a newer plan change, and the reason goes into the minutes."""

    __tablename__ = "plan_acknowledgements"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    strategies: Mapped[str] = mapped_column(Text)  # JSON: the plan's strategy keys when acknowledged
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- referrals, closure, feedback --------------------------------------------------------------

class Service(Base):
    """An entry in the service directory: kept by administrators, or contributed by an agency's
    plugin (``agency`` set: refreshed from the plugin at start-up)."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))
    offers: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(300), default="")
    area: Mapped[str] = mapped_column(String(200), default="")
    agency: Mapped[str | None] = mapped_column(AgencyKey)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


OPEN_REFERRAL_STATUSES = ("draft", "sent", "accepted")
OPEN_REFERRAL = f"status IN ({', '.join(repr(status) for status in OPEN_REFERRAL_STATUSES)})"
PENDING_CLOSURE = "status = 'requested'"


class Referral(Base):
    """The survivor referred to an installed agency or a directory service (GBV step 4), with
    the consent that covers what it shares; states draft, sent, accepted, declined, completed."""

    __tablename__ = "referrals"
    # At most one open referral (draft, sent or accepted) per case and receiving agency or service:
    # the database decides, so two made at once cannot both be written.
    __table_args__ = (
        Index("uq_referrals_open_to_agency", "case_id", "to_agency", unique=True,
              sqlite_where=text(OPEN_REFERRAL), postgresql_where=text(OPEN_REFERRAL)),
        Index("uq_referrals_open_to_service", "case_id", "service_id", unique=True,
              sqlite_where=text(OPEN_REFERRAL), postgresql_where=text(OPEN_REFERRAL)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    to_agency: Mapped[str | None] = mapped_column(AgencyKey, index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    purpose: Mapped[str] = mapped_column(String(500))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    decline_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, default="")  # accompanying and advocating
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    history: Mapped[list[ReferralEvent]] = relationship(order_by="ReferralEvent.id")


class ReferralEvent(Base):
    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class Closure(Base):
    """A request to close a case (GBV step 6) with its criterion, date and reasons, the file
    review's missing items, and a supervisor's decision (never the requester's)."""

    __tablename__ = "closures"
    # At most one request per case awaits its decision: the database decides (two at once cannot both be written).
    __table_args__ = (Index("uq_closures_one_pending", "case_id", unique=True,
                            sqlite_where=text(PENDING_CLOSURE), postgresql_where=text(PENDING_CLOSURE)),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    criterion: Mapped[str] = mapped_column(String(40))
    closing_on: Mapped[dt.date] = mapped_column(Date)
    reasons: Mapped[str] = mapped_column(Text)
    missing_items: Mapped[str] = mapped_column(Text, default="[]")  # JSON: the file review's findings
    status: Mapped[str] = mapped_column(String(20), default="requested")  # requested, approved, refused
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decision_note: Mapped[str | None] = mapped_column(Text)
    # The role map as it stood when the approval closed the case (JSON list of assignments):
    # reopening restores it.
    role_map: Mapped[str] = mapped_column(Text, default="[]")


class TaskSignOff(Base):
    """An agency's sign-off of its own open tasks on a case, before the case is closed: which
    tasks, marked done or not applicable (with the reason), by whom and when. The supervisor
    deciding the closure reads who signed off what."""

    __tablename__ = "task_sign_offs"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str] = mapped_column(AgencyKey)
    decision: Mapped[str] = mapped_column(String(20))  # done, not_applicable
    reason: Mapped[str | None] = mapped_column(Text)
    tasks: Mapped[str] = mapped_column(Text)  # JSON: the titles of the tasks it marked
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def task_titles(self) -> list[str]:
        return json.loads(self.tasks)


class Reopening(Base):
    __tablename__ = "reopenings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SurveyAdministration(Base):
    """That the feedback survey was administered on a closed case, by whom and how: the answers
    are kept apart (``SurveyResponse``) and never linked back to the case."""

    __tablename__ = "survey_administrations"
    __table_args__ = (UniqueConstraint("case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    mode: Mapped[str] = mapped_column(String(20))  # self_completed, interview
    consent_read_at: Mapped[dt.datetime] = mapped_column()
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SurveyResponse(Base):
    """One survivor's answers, with only the period (month) they belong to."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    answers: Mapped[str] = mapped_column(Text)  # JSON: question key -> answer


class MonitorRun(Base):
    """Each day the monitor completed: where the next run starts catching up from."""

    __tablename__ = "monitor_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    ran_on: Mapped[dt.date] = mapped_column(Date, index=True)
    finished_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CasePerson(Base):
    __tablename__ = "case_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # survivor, subject, child, target
    name: Mapped[str] = mapped_column(String(200))
    target_kind: Mapped[str | None] = mapped_column(String(20))  # a target: person, group, place
    born_on: Mapped[dt.date | None] = mapped_column(Date, index=True)

    case: Mapped[Case] = relationship(back_populates="people")


class PersonNameKey(Base):
    """How one part of a person's name sounds (its Metaphone key), written with the name: search and
    the intake check find "Smyth" under "Smith" through this index, on SQLite and PostgreSQL alike."""

    __tablename__ = "person_name_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("case_people.id"), index=True)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(40), index=True)


class CaseLink(Base):
    """A coordinator's decision that a person on a later case is (``same``) or is not someone on an
    earlier case: one decision per pair of cases, so a rejected match is not asked again."""

    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("earlier_case_id", "later_case_id", name="uq_case_links_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    earlier_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    later_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    same: Mapped[bool] = mapped_column(Boolean)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Transfer(Base):
    """A case sent to or received from another MARAC as one signed bundle: which bundle, which
    way, the other deployment, when and by whom it was sent, on what basis, and (received) the
    earlier references, consents and history the bundle carried. One row per bundle and direction,
    so a bundle imported twice still makes one case."""

    __tablename__ = "transfers"
    __table_args__ = (UniqueConstraint("bundle_id", "direction", name="uq_transfers_bundle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(3))  # out, in
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    deployment: Mapped[str] = mapped_column(String(200))  # sent to (out) or from (in)
    sent_at: Mapped[dt.datetime] = mapped_column()
    sent_by: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(Text)  # her consent, or the recorded basis for sending without it
    # JSON lists, as the bundle carried them (an imported case's provenance).
    earlier_references: Mapped[str] = mapped_column(Text, default="[]")
    consents: Mapped[str] = mapped_column(Text, default="[]")
    history: Mapped[str] = mapped_column(Text, default="[]")
    # The sending coordinator's PDF summary of the case (base64), where the sender could render one.
    summary_pdf: Mapped[str | None] = mapped_column(Text)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TransferKey(Base):
    """This deployment's Ed25519 key pair for signing transfer bundles, made on first use. Kept in
    the database so that a restored backup still signs as the same deployment."""

    __tablename__ = "transfer_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    private_key: Mapped[str] = mapped_column(Text)  # raw 32 bytes, base64
    public_key: Mapped[str] = mapped_column(String(64), unique=True)  # raw 32 bytes, base64
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SearchQuery(Base):
    """What someone searched for: the audit entry of the search points here (the audit holds no
    personal text), and retention deletes these after the period set for the search log."""

    __tablename__ = "search_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class KeyDate(Base):
    __tablename__ = "case_key_dates"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(500), default="")

    case: Mapped[Case] = relationship(back_populates="key_dates")


class EqualityAnswers(Base):
    """Her equality data, asked at referral: kept apart from the case's text and read only to count
    (coordinator.figures). At most one per case."""

    __tablename__ = "equality_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    ethnicity: Mapped[str] = mapped_column(String(40))
    ethnicity_detail: Mapped[str] = mapped_column(String(100), default="")
    disability: Mapped[str] = mapped_column(String(40))
    sexual_orientation: Mapped[str] = mapped_column(String(40))
    gender: Mapped[str] = mapped_column(String(40))
    age_16_17: Mapped[str] = mapped_column(String(40))


class MandatoryReport(Base):
    """A report made under a duty to report (to whom, when, under which duty): appended, never edited."""

    __tablename__ = "mandatory_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    to_whom: Mapped[str] = mapped_column(String(200))
    made_on: Mapped[dt.date] = mapped_column(Date)
    duty: Mapped[str] = mapped_column(String(200))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CaseAgency(Base):
    """An agency part of a case, and the ground it joined on (policy.join_ground): "consent:<id>",
    "override:<id>", "team:<id>", "referral:<id>" (a referral it accepted), "intake" (named on the
    referral form) or "team" (named among a threat-assessment team's agencies). None: it joined
    before grounds were recorded."""

    __tablename__ = "case_agencies"
    __table_args__ = (UniqueConstraint("case_id", "agency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str] = mapped_column(AgencyKey)
    ground: Mapped[str | None] = mapped_column(String(40))
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="agencies")


# --- tasks and actions ---------------------------------------------------------------------

LISTED_DUTY = "duty IS NOT NULL AND source IN ('agency_list', 'standing')"
LISTED_TITLE = "duty IS NULL AND source IN ('agency_list', 'standing')"

class Task(Base):
    """One duty of one agency on one case: from its plugin's list, or assigned by a coordinator
    or in a conference (where it is called an action)."""

    __tablename__ = "tasks"
    # The agencies' lists follow the case (tasks.follow_case) and two changes may evaluate them at
    # once: each listed duty exists once per case, held by one agency, and each other listed task
    # once per case and agency.
    __table_args__ = (
        Index("uq_tasks_listed_duty", "case_id", "duty", unique=True,
              sqlite_where=sql_text(LISTED_DUTY), postgresql_where=sql_text(LISTED_DUTY)),
        Index("uq_tasks_listed_title", "case_id", "agency", "title", unique=True,
              sqlite_where=sql_text(LISTED_TITLE), postgresql_where=sql_text(LISTED_TITLE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str] = mapped_column(AgencyKey, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(500))
    domain: Mapped[str] = mapped_column(String(40))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    # A listed task's due offset counts from: "referral", or "meeting" (dated when a meeting is scheduled).
    due_rule: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="open")
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # agency_list, standing, coordinator, conference, case_event, follow_up
    duty: Mapped[str | None] = mapped_column(String(60))  # a shared duty's key: one task per case, one holder
    # Done only through a referral or a consent of hers (TaskTemplate.needs), and the one that
    # fulfilled it once done: "referral:<id>" or "consent:<id>".
    needs: Mapped[str | None] = mapped_column(String(20))
    fulfilled_by: Mapped[str | None] = mapped_column(String(40))
    strategy: Mapped[str | None] = mapped_column(String(120))  # a threat-assessment plan item's strategy key
    review_on: Mapped[dt.date | None] = mapped_column(Date)  # a plan item's review date
    conference_id: Mapped[int | None] = mapped_column(ForeignKey("conferences.id"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    history: Mapped[list[TaskEvent]] = relationship(back_populates="task", order_by="TaskEvent.id")


class TaskEvent(Base):
    __tablename__ = "task_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)

    task: Mapped[Task] = relationship(back_populates="history")


# --- information, consent, overrides ---------------------------------------------------------

class InformationItem(Base):
    """A fact or opinion one agency holds. Never edited: a correction is a new row that
    supersedes the old one (same lineage), and the old row stays as history."""

    __tablename__ = "information_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    lineage_id: Mapped[int | None] = mapped_column(Integer, index=True)  # id of the first version
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("information_items.id"))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    agency: Mapped[str] = mapped_column(AgencyKey)
    category: Mapped[str] = mapped_column(String(120))
    nature: Mapped[str] = mapped_column(String(20))  # fact, opinion
    sensitivity: Mapped[str] = mapped_column(String(20))  # normal, high
    # Never loaded with the row, and reading it from a loaded row raises: only the consent gate
    # (coordinator.gate) selects the text, for the items it has decided a viewer may see.
    text: Mapped[str] = mapped_column(Text, deferred=True, deferred_raiseload=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    review_on: Mapped[dt.date | None] = mapped_column(Date)  # a safety plan's review-by date
    # Recorded as research for a conference: the agency's own until its return is submitted, then
    # shared as ``sharing`` says (now, at the meeting, or not shared with the reason).
    research_return_id: Mapped[int | None] = mapped_column(ForeignKey("research_returns.id"), index=True)
    sharing: Mapped[str] = mapped_column(String(20), default="now", server_default="now")
    not_shared_reason: Mapped[str | None] = mapped_column(Text)


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(20))  # written, verbal
    given_by: Mapped[str] = mapped_column(String(200))  # the survivor, as named on the case
    given_at: Mapped[dt.datetime] = mapped_column()
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    scopes: Mapped[list[ConsentScope]] = relationship(back_populates="consent", order_by="ConsentScope.id")


class ConsentScope(Base):
    """One (category, recipient agency) pair a consent covers. Withdrawal stamps withdrawn_at
    through a ConsentWithdrawal record; the scope row itself is kept."""

    __tablename__ = "consent_scopes"

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), index=True)
    category: Mapped[str] = mapped_column(String(120))
    recipient: Mapped[str] = mapped_column(AgencyKey)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column()
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("consent_withdrawals.id"))

    consent: Mapped[Consent] = relationship(back_populates="scopes")


class ConsentWithdrawal(Base):
    __tablename__ = "consent_withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), index=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class Override(Base):
    """Sharing without consent on a legal basis; grants nothing until a different person,
    a supervisor, approves it."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    legal_basis: Mapped[str] = mapped_column(String(40))
    justification: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="requested")  # requested, approved, refused
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decision_note: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column()
    survivor_informed: Mapped[bool] = mapped_column(Boolean, default=False)
    survivor_informed_at: Mapped[dt.datetime | None] = mapped_column()
    not_informed_reason: Mapped[str | None] = mapped_column(Text)

    scopes: Mapped[list[OverrideScope]] = relationship(back_populates="override", order_by="OverrideScope.id")


class OverrideScope(Base):
    __tablename__ = "override_scopes"

    id: Mapped[int] = mapped_column(primary_key=True)
    override_id: Mapped[int] = mapped_column(ForeignKey("overrides.id"), index=True)
    category: Mapped[str] = mapped_column(String(120))
    recipient: Mapped[str] = mapped_column(AgencyKey)

    override: Mapped[Override] = relationship(back_populates="scopes")


# --- audit ---------------------------------------------------------------------------------

class AuditEntry(Base):
    """Append-only; each entry's hash covers its content and the previous entry's hash."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the log outlives anything it names
    actor_agency: Mapped[str | None] = mapped_column(AgencyKey)
    action: Mapped[str] = mapped_column(String(60), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    subject: Mapped[str] = mapped_column(String(120), default="")  # e.g. "task:12"
    detail: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Disclosure(Base):
    """One item shown to one person of a non-owning agency, and the basis it was shown on.
    Written with (and pointing at) the audit entry of the same view."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(Integer, index=True)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)
    viewer_id: Mapped[int] = mapped_column(Integer)
    viewer_agency: Mapped[str] = mapped_column(AgencyKey)
    basis: Mapped[str] = mapped_column(String(40))  # "consent:7" or "override:3"
    channel: Mapped[str] = mapped_column(String(40))  # page, api, export, conference, minutes
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- conferences ---------------------------------------------------------------------------

class Conference(Base):
    __tablename__ = "conferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    scheduled_at: Mapped[dt.datetime] = mapped_column()
    chair_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled, live, ended
    current_item_id: Mapped[int | None] = mapped_column(Integer)
    # Set when scheduled (COORDINATOR_RESEARCH_DAYS working days before); the agencies are told
    # their agenda and this deadline once the chair circulates it.
    research_due_at: Mapped[dt.datetime | None] = mapped_column()
    agenda_circulated_at: Mapped[dt.datetime | None] = mapped_column()
    started_at: Mapped[dt.datetime | None] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    agenda: Mapped[list[AgendaItem]] = relationship(back_populates="conference", order_by="AgendaItem.position")
    participants: Mapped[list[Participant]] = relationship(back_populates="conference", order_by="Participant.id")


class AgendaItem(Base):
    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("conference_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    position: Mapped[int] = mapped_column(Integer)
    group: Mapped[str] = mapped_column(String(20))  # children, adults, review
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, current, discussed
    started_at: Mapped[dt.datetime | None] = mapped_column()  # when the chair moved to it: the time-box counts from here

    conference: Mapped[Conference] = relationship(back_populates="agenda")


RESEARCH_OUTCOMES = ("information", "nothing_held", "not_researched")


class ResearchReturn(Base):
    """One agency's research on one case for one conference: its items (``information``),
    "nothing held", or "not researched" with the reason. A draft until submitted; one per
    conference, case and agency (the database decides, so two people cannot both start one)."""

    __tablename__ = "research_returns"
    __table_args__ = (UniqueConstraint("conference_id", "case_id", "agency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    agency: Mapped[str] = mapped_column(AgencyKey)
    outcome: Mapped[str] = mapped_column(String(20), default="information")  # RESEARCH_OUTCOMES
    reason: Mapped[str | None] = mapped_column(Text)  # why not researched
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # submitted after the research deadline
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("conference_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agency: Mapped[str | None] = mapped_column(AgencyKey)
    role: Mapped[str] = mapped_column(String(30))  # chair, coordinator, minute_taker, representative, advocate, observer
    statement_accepted_at: Mapped[dt.datetime | None] = mapped_column()
    apology: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sending apologies, an agency names who takes its actions from the meeting.
    actions_person_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    joined_at: Mapped[dt.datetime | None] = mapped_column()  # first time in the room
    # Open live connections (tabs, devices) across all server processes: present while above 0.
    connections: Mapped[int] = mapped_column(Integer, default=0)

    conference: Mapped[Conference] = relationship(back_populates="participants")


class LiveConnection(Base):
    """One open live page, held by the server process that serves it and kept alive by its
    heartbeat: presence is counted from these rows, so a crashed process cannot leave anyone
    "in the room" (its rows go stale, and it clears them when it starts again)."""

    __tablename__ = "live_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    process: Mapped[str] = mapped_column(String(64), index=True)  # host:pid:start of the serving process
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RoleAssignment(Base):
    """Who holds a responsibility on a case, with history: a reassignment ends the old row
    (ended_at) and starts a new one, so the role is stored once and its past is kept."""

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    responsibility: Mapped[str] = mapped_column(String(60))
    agency: Mapped[str] = mapped_column(AgencyKey)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="confirmed")  # proposed, confirmed
    conference_id: Mapped[int | None] = mapped_column(ForeignKey("conferences.id"))
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)


class ConferenceNote(Base):
    """A decision or a note typed in during the meeting, per case."""

    __tablename__ = "conference_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conferences.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))  # decision, note
    text: Mapped[str] = mapped_column(Text)
    # A correction is a new note that supersedes the old one, which stays as history.
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("conference_notes.id"))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@event.listens_for(CasePerson, "after_insert")
@event.listens_for(CasePerson, "after_update")
def _write_sound_keys(mapper, connection, person: CasePerson) -> None:  # noqa: ANN001 (SQLAlchemy's hook)
    """Keep the sound index with the name, whichever path writes it."""
    connection.execute(delete(PersonNameKey).where(PersonNameKey.person_id == person.id))
    keys = sound_keys(person.name)
    if keys:
        connection.execute(insert(PersonNameKey), [{"person_id": person.id, "case_id": person.case_id, "key": key}
                                                   for key in sorted(keys)])


# --- notifications outside the app ------------------------------------------------------------


class WebhookEndpoint(Base):
    """An agency's own system, told of the events that concern the agency (Standard Webhooks:
    each message signed with the endpoint's secret)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency: Mapped[str] = mapped_column(AgencyKey, index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))  # "whsec_" + base64: signs, never shown again
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[dt.datetime | None] = mapped_column()


class Notification(Base):
    """The outbox: one message for one recipient (a person's e-mail, or an agency's endpoint),
    written in the transaction of the change that causes it and delivered after commit. It holds
    the event's kind, a case reference and a link, never case content. One per event and
    recipient: the database refuses a second."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_key", "channel", "recipient"),
                      Index("ix_notifications_waiting", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_key: Mapped[str] = mapped_column(String(200))  # what happened, once (kind and subject)
    kind: Mapped[str] = mapped_column(String(40))  # notify.KINDS
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    reference: Mapped[str] = mapped_column(String(40))  # a case or conference reference
    link: Mapped[str] = mapped_column(String(200))  # a path in the app
    channel: Mapped[str] = mapped_column(String(10))  # email, webhook
    recipient: Mapped[str] = mapped_column(String(40))  # user:<id> or endpoint:<id>
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(10), default="waiting")  # waiting, sent, failed, withheld
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
