"""Users, passwords (argon2), API tokens and login throttling."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import math
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events, policy
from coordinator.errors import Invalid, NotFound
from coordinator.models import ApiToken, LoginFailure, User, WebSession, utcnow
from coordinator.policy import SYSTEM, Actor

ROLES = ("member", "coordinator", "supervisor", "admin")
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not a password anyone has")
# Argon2 costs ~0.1 s of CPU (on four lanes) and 64 MiB a hash: run on the event loop it stalls
# every request and live update meanwhile. It gets threads of its own (argon2 releases the GIL), one
# per core, so a storm of logins queues here instead of taking gigabytes of memory at once; and they
# run at a lower priority, so the event loop (live updates, every other request) wins the CPU.
HASHING_NICENESS = 10


def _lower_priority() -> None:
    try:  # Linux: a thread's own priority, inherited by the lanes argon2 starts from it
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)
    except (AttributeError, OSError):  # elsewhere: the default priority
        pass


_HASHING = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="password-hashing",
                              initializer=_lower_priority)


async def hash_password(password: str) -> str:
    """An argon2 hash of ``password``, computed off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_HASHING, _hasher.hash, password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from, checked off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_HASHING, _matches, password_hash, password)


# --- new passwords (NIST SP 800-63B 3.1.1.2: length, not composition; no common passwords) ------

PASSWORD_MIN_LENGTH = 12  # the default of the setting
PASSWORD_MAX_LENGTH = 200


@cache
def common_passwords() -> frozenset[str]:
    """The list shipped with the package (its header names its source), lowercased."""
    lines = (Path(__file__).parent / "common_passwords.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("# "))  # the header


def password_problem(password: str, *, min_length: int) -> str | None:
    """Why ``password`` may not be chosen, or None: long enough, not too long, not a common one.
    No rules about kinds of characters: they make passwords harder to remember, not to guess."""
    if len(password) < min_length:
        return f"Choose a password of at least {min_length} characters (a few words make a good one)."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"Choose a password of at most {PASSWORD_MAX_LENGTH} characters."
    if "\x00" in password:
        return "The password contains a character that is not allowed."
    if password.lower() in common_passwords():
        return "This password is one of the most common ones, which are guessed first: choose another."
    return None


def check_new_password(password: str, *, min_length: int, field: str) -> None:
    if problem := password_problem(password, min_length=min_length):
        raise Invalid(problem, field=field)


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, agency=user.agency, role=user.role, name=user.display_name)


async def create_user(
    session: AsyncSession, *, username: str, agency: str | None, role: str, password: str,
    display_name: str | None = None, agencies: list[str], by: Actor = SYSTEM,
    password_min_length: int = PASSWORD_MIN_LENGTH,
) -> User:
    username = username.strip()
    if not username or len(username) > 80:
        raise Invalid("username must be 1 to 80 characters", field="username")
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    if role != "admin" and agency not in agencies:
        raise Invalid(f"agency must be one of the installed agencies: {', '.join(agencies)}", field="agency")
    check_new_password(password, min_length=password_min_length, field="password")
    if (await session.execute(select(User.id).where(User.username == username))).scalar() is not None:
        raise Invalid(f"username {username!r} is taken", field="username")
    user = User(username=username, display_name=display_name or username, agency=agency, role=role,
                password_hash=await hash_password(password))
    session.add(user)
    await session.flush()
    await audit.record(session, by, "user.created", subject=f"user:{user.id}", username=username, agency=agency, role=role)
    return user


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(f"no user {user_id}")
    return user


async def user_by_username(session: AsyncSession, username: str) -> User:
    user = (await session.execute(select(User).where(User.username == username))).scalar()
    if user is None:
        raise NotFound(f"no user named {username!r}", field="username")
    return user


class LoginRefused(Exception):
    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds, when the refusal is throttling

    @property
    def throttled(self) -> bool:
        return self.retry_after is not None


def _throttle_wait(failures: int, max_failures: int, first_delay: dt.timedelta, window: dt.timedelta) -> dt.timedelta:
    """How long after its last failure an address must wait: nothing below ``max_failures``, then
    ``first_delay`` doubling with each further failure, at most ``window``."""
    if failures < max_failures:
        return dt.timedelta(0)
    return min(first_delay * 2 ** min(failures - max_failures, 32), window)


@dataclass(frozen=True)
class Throttle:
    """How guessing a secret (a password, a second-factor code) is slowed down: see ``_throttle_wait``."""

    max_failures: int
    window: dt.timedelta
    first_delay: dt.timedelta


async def refuse_if_throttled(session: AsyncSession, username: str, address: str, throttle: Throttle) -> None:
    """LoginRefused (with the seconds to wait) while this (username, address) must wait."""
    now = utcnow()
    failures, last = (await session.execute(select(func.count(), func.max(LoginFailure.at)).where(
        _failures_of(username, address), LoginFailure.at >= now - throttle.window))).one()
    wait = _throttle_wait(failures, throttle.max_failures, throttle.first_delay, throttle.window)
    if failures and last + wait > now:
        seconds = math.ceil((last + wait - now).total_seconds())
        await audit.record(session, SYSTEM, "login.throttled", username=username)
        raise LoginRefused(f"Too many failed attempts: try again in {seconds} seconds.", retry_after=seconds)


def _failures_of(username: str, address: str):  # noqa: ANN202
    return (LoginFailure.username == username) & (LoginFailure.address == address)


async def count_failure(session: AsyncSession, username: str, address: str, action: str, throttle: Throttle) -> None:
    """A wrong secret: counted toward throttling this (username, address), and audited."""
    now = utcnow()
    # Failures older than the window no longer count: the cheapest moment to forget them is now.
    await session.execute(delete(LoginFailure).where(LoginFailure.at < now - throttle.window))
    session.add(LoginFailure(username=username, address=address, at=now))
    await audit.record(session, SYSTEM, action, username=username)


async def forget_failures(session: AsyncSession, username: str, address: str) -> None:
    # Only this address's failures: a login elsewhere must not lift a guesser's delay.
    await session.execute(delete(LoginFailure).where(_failures_of(username, address)))


async def authenticate(
    session: AsyncSession, *, username: str, password: str, address: str, throttle: Throttle,
) -> User:
    """Check a password. Failures count per (username, client address) within the throttle's
    window; past its ``max_failures`` that address must wait a growing delay before trying again,
    even with the right password. Throttling per address means someone guessing at a name cannot
    lock its owner out: she still logs in from her own machine.

    Call it before writing anything in ``session``: its transaction is ended (rolled back) while
    the password is checked, so no connection is held meanwhile."""
    await refuse_if_throttled(session, username, address, throttle)
    found = (await session.execute(select(User.id, User.password_hash, User.active).where(
        User.username == username))).first()
    # Only reads so far: ending the transaction hands the connection back while the hash is checked
    # (SQLite's one connection serves every other request and live update meanwhile).
    await session.rollback()
    ok = await password_matches(found.password_hash if found else _DUMMY_HASH, password)
    user = await session.get(User, found.id) if ok and found is not None and found.active else None
    if user is None:
        await count_failure(session, username, address, "login.failed", throttle)
        raise LoginRefused("Wrong username or password.")
    await forget_failures(session, username, address)
    await audit.record(session, actor_of(user), "login.succeeded", subject=f"user:{user.id}")
    return user


async def end_sessions(session: AsyncSession, user_id: int, key: str | None = None) -> None:
    """End one login session (``key``) or all of a user's, in the caller's transaction; open
    live pages of those sessions hear of it once that commits."""
    ended = WebSession.user_id == user_id
    await session.execute(delete(WebSession).where(ended if key is None else ended & (WebSession.key == key)))
    events.emit(session, events.SessionsEnded(user_id=user_id, session_key=key))


async def sweep_expired_sessions(session: AsyncSession) -> None:
    """Delete sessions past their expiry (a session is otherwise only removed when its own
    cookie comes back late, which an abandoned one never does)."""
    expired = (await session.execute(
        select(WebSession.key, WebSession.user_id).where(WebSession.expires_at <= utcnow())
    )).all()
    for key, user_id in expired:
        await end_sessions(session, user_id, key)


async def end_other_sessions(session: AsyncSession, user_id: int, keep: str | None) -> int:
    """End every session of the user but ``keep`` (the one asking); how many ended."""
    keys = list((await session.execute(select(WebSession.key).where(
        WebSession.user_id == user_id, WebSession.key != (keep or "")))).scalars())
    for key in keys:
        await end_sessions(session, user_id, key)
    return len(keys)


async def deactivate_user(session: AsyncSession, username: str, *, by: Actor = SYSTEM) -> User:
    """The user can no longer log in or use a token, and every session of theirs ends now.
    Nothing else is revoked: their tokens stay listed and work again if they are reactivated."""
    user = await user_by_username(session, username)
    user.active = False
    await end_sessions(session, user.id)
    await audit.record(session, by, "user.deactivated", subject=f"user:{user.id}")
    return user


# --- API tokens ---------------------------------------------------------------------------

TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650


class TokenRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def live_sessions(session: AsyncSession, keys: set[str]) -> set[str]:
    """Of these login sessions, those that still hold: not ended, not expired, user active."""
    if not keys:
        return set()
    return set((await session.execute(
        select(WebSession.key).join(User, User.id == WebSession.user_id)
        .where(WebSession.key.in_(keys), User.active.is_(True),
               (WebSession.expires_at.is_(None)) | (WebSession.expires_at > utcnow())))).scalars())


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, user: User, *, days: int = TOKEN_DAYS) -> str:
    """A new API token valid for ``days``; only its digest is stored, so it is shown once."""
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise Invalid(f"days must be 1 to {MAX_TOKEN_DAYS}", field="days")
    token = "ccc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token),
                         expires_at=utcnow() + dt.timedelta(days=days)))
    await audit.record(session, actor_of(user), "token.created", subject=f"user:{user.id}")
    return token


async def tokens_of(session: AsyncSession, username: str) -> list[ApiToken]:
    user = await user_by_username(session, username)
    return list((await session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    )).scalars())


def token_status(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= utcnow() else "active"


async def revoke_token(session: AsyncSession, token_id: int, *, by: Actor = SYSTEM) -> ApiToken:
    """Revoke a token for good; revoking it again changes nothing."""
    token = await session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if token is None:
        raise NotFound(f"no API token {token_id}", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await audit.record(session, by, "token.revoked", subject=f"user:{token.user_id}", token_id=token.id)
    return token


async def user_for_token(session: AsyncSession, token: str) -> User:
    """The user a bearer token speaks for, or TokenRefused saying why not."""
    row = (await session.execute(
        select(ApiToken, User).join(User, ApiToken.user_id == User.id).where(ApiToken.token_hash == _token_digest(token))
    )).first()
    if row is None:
        raise TokenRefused("the API token is not valid")
    api_token, user = row
    status = token_status(api_token)
    if status != "active":
        raise TokenRefused(f"the API token has {'been revoked' if status == 'revoked' else 'expired'}: "
                           "ask an administrator for a new one")
    if not user.active:
        raise TokenRefused("your account is no longer active")
    return user


# --- a person's own account ----------------------------------------------------------------

async def change_password(
    session: AsyncSession, user_id: int, *, current: str, new: str, address: str, throttle: Throttle,
    min_length: int, keep_session: str | None,
) -> None:
    """Her new password, once she has given the current one; every other session of hers ends
    (whoever knew the old password is logged out). A wrong current password counts toward
    throttling like a failed login: commit even when this raises Invalid on it."""
    user = await get_user(session, user_id)
    await refuse_if_throttled(session, user.username, address, throttle)
    check_new_password(new, min_length=min_length, field="new_password")
    username, password_hash = user.username, user.password_hash
    await session.rollback()  # no connection held while the hash is checked
    if not await password_matches(password_hash, current):
        await count_failure(session, username, address, "password.change_refused", throttle)
        raise Invalid("This is not your current password.", field="current_password")
    if await password_matches(password_hash, new):
        raise Invalid("The new password is the one you have now: choose another.", field="new_password")
    new_hash = await hash_password(new)
    user = await get_user(session, user_id)
    user.password_hash = new_hash
    await forget_failures(session, username, address)
    await end_other_sessions(session, user.id, keep_session)
    await audit.record(session, actor_of(user), "password.changed", subject=f"user:{user.id}")


def session_handle(key: str) -> str:
    """What names a session on pages and in the API: the session id itself never leaves its cookie."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"), ("python-httpx", "a script (httpx)"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"), ("Linux", "Linux"))


def device_of(user_agent: str | None) -> str:
    """A browser's User-Agent as people read it: "Firefox on Windows"."""
    if not user_agent:
        return "Unknown device"
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or user_agent[:60]


@dataclass(frozen=True)
class SessionSeen:
    handle: str
    device: str
    address: str
    started_at: dt.datetime | None
    last_used_at: dt.datetime | None
    current: bool


async def sessions_of(session: AsyncSession, user_id: int, *, current_key: str | None,
                      idle: dt.timedelta) -> list[SessionSeen]:
    """Her sessions still open, the one asking first. Last used is read from the expiry (pushed on
    by each use, within ``sessions.RENEW_SLACK``), so listing them costs no write per request."""
    rows = (await session.execute(select(WebSession).where(
        WebSession.user_id == user_id, (WebSession.expires_at.is_(None)) | (WebSession.expires_at > utcnow()))
        .order_by(WebSession.expires_at.desc()))).scalars()
    seen = [SessionSeen(handle=session_handle(row.key), device=device_of(row.user_agent), address=row.address or "unknown",
                        started_at=row.created_at,
                        last_used_at=row.expires_at - idle if row.expires_at is not None else None,
                        current=row.key == current_key) for row in rows]
    return sorted(seen, key=lambda s: not s.current)


async def end_session_by_handle(session: AsyncSession, actor: Actor, handle: str) -> None:
    """End one of the actor's own sessions, named by its handle."""
    keys = (await session.execute(select(WebSession.key).where(WebSession.user_id == actor.id))).scalars()
    key = next((k for k in keys if session_handle(k) == handle), None)
    if key is None:
        raise NotFound("no such session of yours (it may have ended already)", field="handle")
    await end_sessions(session, actor.id, key)
    await audit.record(session, actor, "session.ended", subject=f"user:{actor.id}")


async def tokens_of_user(session: AsyncSession, user_id: int) -> list[ApiToken]:
    return list((await session.execute(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))).scalars())


async def revoke_token_of(session: AsyncSession, actor: Actor, token_id: int) -> ApiToken:
    """Revoke a token the actor may manage (her own; an administrator's, anyone's)."""
    token = await session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if token is None or not policy.may_manage_token(actor, token.user_id):
        raise NotFound(f"no API token {token_id} of yours", field="token_id")
    return await revoke_token(session, token_id, by=actor)
