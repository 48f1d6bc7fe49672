"""Users, passwords (argon2), API tokens and login throttling."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit
from coordinator.audit import Actor
from coordinator.errors import Invalid, NotFound
from coordinator.models import ApiToken, LoginFailure, User, utcnow

ROLES = ("member", "coordinator", "supervisor", "admin")
_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not a password anyone has")


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, agency=user.agency, role=user.role, name=user.display_name)


async def create_user(
    session: AsyncSession, *, username: str, agency: str | None, role: str, password: str,
    display_name: str | None = None, agencies: list[str], by: Actor = audit.SYSTEM,
) -> User:
    username = username.strip()
    if not username or len(username) > 80:
        raise Invalid("username must be 1 to 80 characters", field="username")
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
    if role != "admin" and agency not in agencies:
        raise Invalid(f"agency must be one of the installed agencies: {', '.join(agencies)}", field="agency")
    if len(password) < 10:
        raise Invalid("password must be at least 10 characters", field="password")
    if (await session.execute(select(User.id).where(User.username == username))).scalar() is not None:
        raise Invalid(f"username {username!r} is taken", field="username")
    user = User(username=username, display_name=display_name or username, agency=agency, role=role,
                password_hash=_hasher.hash(password))
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
    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.throttled = throttled


async def authenticate(
    session: AsyncSession, *, username: str, password: str, max_failures: int, window: dt.timedelta
) -> User:
    """Check a password; after ``max_failures`` failures within ``window`` refuse further
    attempts for that username until the window has passed, even with the right password."""
    since = utcnow() - window
    failures = (await session.execute(
        select(func.count()).select_from(LoginFailure)
        .where(LoginFailure.username == username, LoginFailure.at >= since)
    )).scalar_one()
    if failures >= max_failures:
        await audit.record(session, audit.SYSTEM, "login.throttled", username=username)
        raise LoginRefused("Too many failed attempts: try again later.", throttled=True)
    user = (await session.execute(select(User).where(User.username == username))).scalar()
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        session.add(LoginFailure(username=username))
        await audit.record(session, audit.SYSTEM, "login.failed", username=username)
        raise LoginRefused("Wrong username or password.")
    await session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    await audit.record(session, actor_of(user), "login.succeeded", subject=f"user:{user.id}")
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, user: User) -> str:
    """A new API token; only its digest is stored, so it is shown once."""
    token = "ccc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token)))
    await audit.record(session, actor_of(user), "token.created", subject=f"user:{user.id}")
    return token


async def user_for_token(session: AsyncSession, token: str) -> User | None:
    row = (await session.execute(
        select(User).join(ApiToken, ApiToken.user_id == User.id).where(ApiToken.token_hash == _token_digest(token))
    )).scalar()
    return row if row is not None and row.active else None
