"""One frozen settings object, read from the environment once and passed in; never global."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import secrets
import zoneinfo
from dataclasses import dataclass, field


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"setting {name} must be a whole number, got {raw!r}") from exc


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SystemExit(f"setting {name} must be 1 or 0, got {raw!r}")


_USER_ROLES = ("member", "coordinator", "supervisor", "admin")  # as policy.USER_ROLES (settings import nothing)


def _roles(env: dict[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of user roles; "none" for none."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    roles = tuple(r.strip() for r in raw.split(",") if r.strip() and r.strip() != "none")
    if unknown := [r for r in roles if r not in _USER_ROLES]:
        raise SystemExit(f"setting {name} names unknown roles {unknown}: give some of {', '.join(_USER_ROLES)}, or none")
    return roles


SIGN_ON_NEWCOMERS = ("wait", "member")


@dataclass(frozen=True)
class SignOnProvider:
    """An agency's OpenID Connect provider: its staff sign in there. An account is found by the
    value of ``claim`` (its username, e.g. her e-mail address); someone unknown waits for an
    administrator (``newcomers="wait"``) or is given a member's account (``"member"``)."""

    agency: str
    issuer: str
    client_id: str
    client_secret: str
    claim: str = "email"
    newcomers: str = "wait"


def _sign_on(env: dict[str, str]) -> tuple[SignOnProvider, ...]:
    """COORDINATOR_SSO_<AGENCY>_ISSUER (with _CLIENT_ID, _CLIENT_SECRET, _CLAIM, _NEWCOMERS) per agency."""
    found = []
    for name in sorted(env):
        if not (name.startswith("COORDINATOR_SSO_") and name.endswith("_ISSUER")) or not env[name].strip():
            continue
        prefix = name.removesuffix("ISSUER")
        agency = prefix.removeprefix("COORDINATOR_SSO_").rstrip("_").lower()
        newcomers = env.get(prefix + "NEWCOMERS", "").strip() or "wait"
        if newcomers not in SIGN_ON_NEWCOMERS or not env.get(prefix + "CLIENT_ID"):
            raise SystemExit(f"settings {prefix}*: give CLIENT_ID, and NEWCOMERS as one of {', '.join(SIGN_ON_NEWCOMERS)}")
        found.append(SignOnProvider(agency=agency, issuer=env[name].strip().rstrip("/"), client_id=env[prefix + "CLIENT_ID"],
                                    client_secret=env.get(prefix + "CLIENT_SECRET", ""),
                                    claim=env.get(prefix + "CLAIM", "").strip() or "email", newcomers=newcomers))
    return tuple(found)
def _trusted_senders(env: dict[str, str]) -> tuple[str, ...]:
    """The MARACs whose transfer bundles are accepted: ``NAME=KEY`` entries, each key an Ed25519
    public key (32 bytes, base64) as `coordinator transfer key` prints it there."""
    entries = _list(env, "COORDINATOR_TRANSFER_TRUSTED", ())
    for entry in entries:
        name, _, key = entry.partition("=")  # a base64 key may end in "="; a name holds none
        try:
            valid = len(base64.b64decode(key.strip(), validate=True)) == 32
        except ValueError:
            valid = False
        if not name.strip() or not valid:
            raise SystemExit(f"setting COORDINATOR_TRANSFER_TRUSTED: {entry!r} is not NAME=PUBLIC_KEY "
                             "(the line `coordinator transfer key` prints at the sending MARAC)")
    return entries


@dataclass(frozen=True)
class ReferralThresholds:
    """MARAC practice defaults; local policy may change them."""

    checklist_high: int = 14  # "yes" answers of the 24-question risk checklist
    escalation_incidents: int = 3
    escalation_window_days: int = 365
    repeat_window_days: int = 365


def _list(env: dict[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A list setting, one entry per ``;`` (entries may hold commas)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    entries = tuple(entry.strip() for entry in raw.split(";") if entry.strip())
    if len(set(entries)) != len(entries):
        raise SystemExit(f"setting {name} names an entry twice: {raw!r}")
    return entries


# The Comprehensive School Threat Assessment Guidelines' classifications, lowest first.
THREAT_LEVELS = ("transient", "substantive_serious", "substantive_very_serious")
# What the team does first when a report says someone is in immediate danger.
THREAT_EMERGENCY_STEPS = (
    "Call the emergency services",
    "Protect the people at risk: move them away, or lock down the building",
    "Keep the subject supervised and away from any weapon",
    "Tell the team lead and the head of the school",
)
# What a threat-assessment team may record as its basis for sharing within the team.
TEAM_SHARING_BASES = ("health_or_safety_emergency", "duty_of_care", "prevention_of_crime")


@dataclass(frozen=True)
class ScreeningDeadline:
    """When a threat-assessment report's screening is due (COORDINATOR_THREAT_SCREENING_DUE): by a local time of
    day, "17:00" (the default: the same school day; a report at or after it, or at a weekend, by that time on the
    next school day, Monday to Friday), or within a number of hours of the report, "4h"."""

    by: dt.time | None = dt.time(17, 0)
    hours: int | None = None
    timezone: str = "Europe/London"

    def due(self, reported_at: dt.datetime) -> dt.datetime:
        if self.hours is not None:
            return reported_at + dt.timedelta(hours=self.hours)
        zone = zoneinfo.ZoneInfo(self.timezone)
        local = reported_at.astimezone(zone)
        day = local.date() + dt.timedelta(days=1 if local.time() >= self.by else 0)
        while day.weekday() >= 5:  # Saturday, Sunday
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, self.by, tzinfo=zone).astimezone(dt.UTC)

    @classmethod
    def parse(cls, raw: str, timezone: str) -> "ScreeningDeadline":
        raw = raw.strip().lower()
        if not raw:
            return cls(timezone=timezone)
        try:
            if raw.endswith("h"):
                hours = int(raw[:-1])
                if 1 <= hours <= 168:
                    return cls(by=None, hours=hours, timezone=timezone)
            else:
                return cls(by=dt.time.fromisoformat(raw), timezone=timezone)
        except ValueError:
            pass
        raise SystemExit(f"setting COORDINATOR_THREAT_SCREENING_DUE must be a time of day (17:00: the same school day) "
                         f"or hours from the report (1h to 168h), got {raw!r}")


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///coordinator.db"
    # "memory" (one process), "redis://…" or "postgresql://…" (several processes share conferences)
    channels_url: str = "memory"
    # Channel names start with this, so several deployments (or test runs) can share one Redis.
    channels_prefix: str = "ccc"
    # While the channels backend is unreachable, reconnection is tried with a growing pause of
    # at most this long (so an outage is over for the pages at most this long after it ends).
    channels_retry_seconds: int = 5
    # Messages waiting for one live page; a page further behind is closed (1013) and reconnects.
    live_outbox_limit: int = 64
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session_idle_minutes: int = 30
    # Finer than minutes where set (a short limit for tests); 0 means session_idle_minutes.
    session_idle_seconds: int = 0
    # An open page offers "Stay signed in" this long before its session would end.
    session_warning_seconds: int = 120
    # How often an open live page checks that its login session still holds (expiry,
    # deactivation, logout made where no event reached this process).
    session_check_seconds: int = 15
    # An open live page beats this often; a page whose last beat is older than the timeout
    # counts as gone, so people do not stay "in the room" when their server process dies.
    heartbeat_seconds: int = 10
    presence_timeout_seconds: int = 30
    login_max_failures: int = 5
    login_window_minutes: int = 15
    # After login_max_failures from one address, that address waits this long before its next
    # try, doubling with each further failure (at most the window).
    login_delay_seconds: int = 30
    # New passwords: at least this long (NIST SP 800-63B: length, no composition rules).
    password_min_length: int = 12
    # Coordinators may manage the accounts of their own agency's staff (members and coordinators).
    coordinators_manage_users: bool = False
    # A one-time set-password link an administrator issues is valid this long.
    password_link_minutes: int = 60
    # Roles that must use a second factor: sent to enrol after their password until they have one.
    second_factor_roles: tuple[str, ...] = ("supervisor", "admin")
    # Where people reach the server ("https://coordinator.example.org"): a passkey is bound to its
    # host name and only answers pages of this origin. Empty: the origin each request names.
    public_origin: str = ""
    # Single sign-on: the agencies whose staff sign in with their own organisation's provider.
    sign_on: tuple[SignOnProvider, ...] = ()
    # Secure flag on the session and CSRF cookies: on wherever the server is reached over HTTPS;
    # off by default so http://localhost works in development.
    secure_cookies: bool = False
    referral: ReferralThresholds = field(default_factory=ReferralThresholds)
    # The monitor inside the server runs this often (0: not in this process; `coordinator
    # monitor --once` from cron instead). From the environment the default is hourly.
    monitor_seconds: int = 0
    # A release from custody or a hearing this many days ahead raises its event.
    monitor_near_days: int = 14
    # A file replacing the feedback survey's default questions (one question per line), or "".
    survey_questions_file: str = ""
    # Closed cases are kept this long; then `coordinator retention --apply` removes their text
    # and personal details (the audit chain stays verifiable).
    retention_days: int = 6 * 365
    # What was searched for is kept this long (the searches' audit entries, which hold no words, stay).
    search_log_days: int = 365
    # MARAC practice gives each case about 12-15 minutes: the chair's time-box on the live page.
    minutes_per_case: int = 15
    # Scheduling a conference sets its research deadline this many working days (Monday to Friday)
    # before the meeting: the agencies' returns after it are accepted and marked late.
    research_days: int = 3
    # Times are stored in UTC, and entered and shown in this zone (an IANA name).
    timezone: str = "Europe/London"
    # Who may read /metrics: these addresses or networks (loopback by default; behind a proxy,
    # the client's address as the proxy forwards it), or anyone sending this bearer token.
    metrics_addresses: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_token: str = ""
    # A threat-assessment team's classifications (lowest first), its emergency steps, and the
    # legal bases it may record for sharing within the team: local lists with published defaults.
    threat_levels: tuple[str, ...] = THREAT_LEVELS
    threat_emergency_steps: tuple[str, ...] = THREAT_EMERGENCY_STEPS
    team_sharing_bases: tuple[str, ...] = TEAM_SHARING_BASES
    # The time the team sets for screening a report (see ScreeningDeadline); recorded on each case at its report.
    threat_screening_due: ScreeningDeadline = field(default_factory=ScreeningDeadline)
    # Notifications outside the app. E-mail goes through this SMTP server ("smtp://user:password@host:587"
    # with STARTTLS when offered, "smtps://…" for TLS from the start); "log" writes each message to the
    # server's log instead, so a development server needs no mail server.
    smtp_url: str = "log"
    smtp_from: str = "coordinator@localhost"
    # Links in messages start with this: the address people reach the server at.
    public_url: str = "http://localhost:8000"
    # The deliverer inside the server looks for notifications this often (0: not in this process).
    notify_seconds: int = 0
    # A failed delivery is tried again after this long, doubling each time, up to notify_attempts in
    # all; then it shows as failed to administrators.
    notify_retry_seconds: int = 30
    notify_attempts: int = 8
    # One message to the mail server or an endpoint may take this long. A process killed while
    # sending leaves its messages claimed three times this long; then another process sends them.
    notify_timeout_seconds: int = 10
    # People who chose a daily digest get it at this hour (in ``timezone``).
    digest_hour: int = 7
    # Case transfers: this MARAC's name as other deployments see it in a bundle, and the MARACs whose
    # bundles are accepted here, each "NAME=PUBLIC_KEY" (the line `coordinator transfer key` prints there).
    deployment_name: str = "this MARAC"
    transfer_trusted: tuple[str, ...] = ()
    debug: bool = False

    @property
    def idle_seconds(self) -> int:
        """How long a login session lasts without use."""
        return self.session_idle_seconds or self.session_idle_minutes * 60

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        kwargs: dict = {}
        if env.get("COORDINATOR_DATABASE_URL"):
            kwargs["database_url"] = env["COORDINATOR_DATABASE_URL"]
        if env.get("COORDINATOR_CHANNELS_URL"):
            kwargs["channels_url"] = env["COORDINATOR_CHANNELS_URL"]
        if env.get("COORDINATOR_CHANNELS_PREFIX"):
            kwargs["channels_prefix"] = env["COORDINATOR_CHANNELS_PREFIX"]
        if env.get("COORDINATOR_SECRET_KEY"):
            kwargs["secret_key"] = env["COORDINATOR_SECRET_KEY"]
        kwargs["channels_retry_seconds"] = max(1, _int(env, "COORDINATOR_CHANNELS_RETRY_SECONDS", 5))
        kwargs["live_outbox_limit"] = max(1, _int(env, "COORDINATOR_LIVE_OUTBOX_LIMIT", 64))
        kwargs["session_idle_minutes"] = _int(env, "COORDINATOR_SESSION_IDLE_MINUTES", 30)
        kwargs["session_idle_seconds"] = max(0, _int(env, "COORDINATOR_SESSION_IDLE_SECONDS", 0))
        kwargs["session_warning_seconds"] = max(0, _int(env, "COORDINATOR_SESSION_WARNING_SECONDS", 120))
        kwargs["session_check_seconds"] = _int(env, "COORDINATOR_SESSION_CHECK_SECONDS", 15)
        kwargs["heartbeat_seconds"] = _int(env, "COORDINATOR_HEARTBEAT_SECONDS", 10)
        kwargs["presence_timeout_seconds"] = _int(env, "COORDINATOR_PRESENCE_TIMEOUT_SECONDS", 30)
        if kwargs["heartbeat_seconds"] >= kwargs["presence_timeout_seconds"]:  # else open pages would flicker away
            raise SystemExit("COORDINATOR_HEARTBEAT_SECONDS must be less than COORDINATOR_PRESENCE_TIMEOUT_SECONDS")
        kwargs["login_max_failures"] = _int(env, "COORDINATOR_LOGIN_MAX_FAILURES", 5)
        kwargs["login_window_minutes"] = _int(env, "COORDINATOR_LOGIN_WINDOW_MINUTES", 15)
        kwargs["login_delay_seconds"] = _int(env, "COORDINATOR_LOGIN_DELAY_SECONDS", 30)
        kwargs["password_min_length"] = min(max(8, _int(env, "COORDINATOR_PASSWORD_MIN_LENGTH", 12)), 64)
        kwargs["coordinators_manage_users"] = _bool(env, "COORDINATOR_COORDINATORS_MANAGE_USERS", False)
        kwargs["password_link_minutes"] = max(1, _int(env, "COORDINATOR_PASSWORD_LINK_MINUTES", 60))
        kwargs["second_factor_roles"] = _roles(env, "COORDINATOR_REQUIRE_SECOND_FACTOR_FOR", ("supervisor", "admin"))
        kwargs["public_origin"] = env.get("COORDINATOR_PUBLIC_ORIGIN", "").strip().rstrip("/")
        kwargs["sign_on"] = _sign_on(env)
        kwargs["secure_cookies"] = _bool(env, "COORDINATOR_SECURE_COOKIES", False)
        kwargs["referral"] = ReferralThresholds(
            checklist_high=_int(env, "COORDINATOR_REFERRAL_CHECKLIST_HIGH", 14),
            escalation_incidents=_int(env, "COORDINATOR_REFERRAL_ESCALATION_INCIDENTS", 3),
            escalation_window_days=_int(env, "COORDINATOR_REFERRAL_ESCALATION_WINDOW_DAYS", 365),
            repeat_window_days=_int(env, "COORDINATOR_REFERRAL_REPEAT_WINDOW_DAYS", 365),
        )
        kwargs["monitor_seconds"] = max(0, _int(env, "COORDINATOR_MONITOR_SECONDS", 3600))
        kwargs["monitor_near_days"] = max(0, _int(env, "COORDINATOR_MONITOR_NEAR_DAYS", 14))
        kwargs["survey_questions_file"] = env.get("COORDINATOR_SURVEY_QUESTIONS", "")
        if kwargs["survey_questions_file"] and not os.path.isfile(kwargs["survey_questions_file"]):
            raise SystemExit(f"setting COORDINATOR_SURVEY_QUESTIONS names no file: {kwargs['survey_questions_file']!r}")
        kwargs["retention_days"] = max(0, _int(env, "COORDINATOR_RETENTION_DAYS", 6 * 365))
        kwargs["search_log_days"] = max(0, _int(env, "COORDINATOR_SEARCH_LOG_DAYS", 365))
        kwargs["minutes_per_case"] = max(1, _int(env, "COORDINATOR_MINUTES_PER_CASE", 15))
        kwargs["research_days"] = max(0, _int(env, "COORDINATOR_RESEARCH_DAYS", 3))
        kwargs["timezone"] = env.get("COORDINATOR_TIMEZONE", "") or "Europe/London"
        try:
            zoneinfo.ZoneInfo(kwargs["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SystemExit(f"setting COORDINATOR_TIMEZONE names no time zone: {kwargs['timezone']!r} "
                             "(give an IANA name such as Europe/London)") from None
        if env.get("COORDINATOR_METRICS_ADDRESSES", "").strip():
            kwargs["metrics_addresses"] = tuple(a.strip() for a in env["COORDINATOR_METRICS_ADDRESSES"].split(",")
                                                if a.strip())
            for address in kwargs["metrics_addresses"]:
                try:
                    ipaddress.ip_network(address, strict=False)
                except ValueError:
                    raise SystemExit(f"setting COORDINATOR_METRICS_ADDRESSES: {address!r} is no address or network "
                                     "(give e.g. 10.0.0.0/8,127.0.0.1)") from None
        kwargs["metrics_token"] = env.get("COORDINATOR_METRICS_TOKEN", "")
        kwargs["threat_levels"] = _list(env, "COORDINATOR_THREAT_LEVELS", THREAT_LEVELS)
        kwargs["threat_emergency_steps"] = _list(env, "COORDINATOR_THREAT_EMERGENCY_STEPS", THREAT_EMERGENCY_STEPS)
        kwargs["team_sharing_bases"] = _list(env, "COORDINATOR_TEAM_SHARING_BASES", TEAM_SHARING_BASES)
        kwargs["threat_screening_due"] = ScreeningDeadline.parse(env.get("COORDINATOR_THREAT_SCREENING_DUE", ""),
                                                                 kwargs["timezone"])
        kwargs["smtp_url"] = env.get("COORDINATOR_SMTP_URL", "").strip() or "log"
        if kwargs["smtp_url"] != "log" and not kwargs["smtp_url"].startswith(("smtp://", "smtps://")):
            raise SystemExit("setting COORDINATOR_SMTP_URL must be smtp://host:port, smtps://host:port or log, "
                             f"got {kwargs['smtp_url']!r}")
        kwargs["smtp_from"] = env.get("COORDINATOR_SMTP_FROM", "").strip() or "coordinator@localhost"
        kwargs["public_url"] = (env.get("COORDINATOR_PUBLIC_URL", "").strip() or "http://localhost:8000").rstrip("/")
        kwargs["notify_seconds"] = max(0, _int(env, "COORDINATOR_NOTIFY_SECONDS", 10))
        kwargs["notify_retry_seconds"] = max(1, _int(env, "COORDINATOR_NOTIFY_RETRY_SECONDS", 30))
        kwargs["notify_attempts"] = max(1, _int(env, "COORDINATOR_NOTIFY_ATTEMPTS", 8))
        kwargs["notify_timeout_seconds"] = max(1, _int(env, "COORDINATOR_NOTIFY_TIMEOUT_SECONDS", 10))
        kwargs["digest_hour"] = min(max(0, _int(env, "COORDINATOR_DIGEST_HOUR", 7)), 23)
        kwargs["deployment_name"] = env.get("COORDINATOR_DEPLOYMENT_NAME", "").strip() or "this MARAC"
        kwargs["transfer_trusted"] = _trusted_senders(env)
        kwargs["debug"] = env.get("COORDINATOR_DEBUG", "") == "1"
        return cls(**kwargs)
