"""Administration of accounts: list, create, change role and agency, deactivate and reactivate, and
one-time set-password links. Who may do which is decided in ``policy``; every change is audited,
and every change of someone's rights ends her sessions (she logs in again under the new ones)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, audit, policy
from coordinator.errors import Invalid, NotFound
from coordinator.limits import Key, Line, OneOf
from coordinator.models import PasswordLink, User, utcnow
from coordinator.policy import USER_ROLES, Actor

ROLE_REFUSAL = f"role must be one of {', '.join(USER_ROLES)}"


@dataclass
class UserIn:
    """A new account. It has no usable password: the answer carries a one-time set-password link."""

    username: Line(80)
    role: OneOf(USER_ROLES, ROLE_REFUSAL)
    agency: Key | None = None
    display_name: Line(200) = ""


@dataclass
class UserChangeIn:
    role: OneOf(USER_ROLES, ROLE_REFUSAL)
    agency: Key | None = None


def _agency_for(role: str, agency: str | None) -> str | None:
    return None if role == policy.ADMIN_ROLE else agency  # administrators belong to no agency


async def users_managed(session: AsyncSession, actor: Actor, coordinators_manage: bool) -> list[User]:
    """The accounts the actor administers, by username."""
    policy.require_user_manager(actor, coordinators_manage)
    users = (await session.execute(select(User).order_by(User.username))).scalars()
    return [u for u in users if policy.may_see_account(actor, u.role, u.agency, coordinators_manage)]


async def _managed(session: AsyncSession, actor: Actor, user_id: int, coordinators_manage: bool) -> User:
    """A user the actor may change (inactive ones too: they can be reactivated)."""
    policy.require_user_manager(actor, coordinators_manage)
    user = await session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    policy.require_account_changer(actor, user.id, user.role, user.agency, coordinators_manage)
    return user


async def create_account(session: AsyncSession, actor: Actor, data: UserIn, *, agencies: list[str],
                         coordinators_manage: bool) -> User:
    policy.require_user_manager(actor, coordinators_manage)
    agency = _agency_for(data.role, data.agency)
    policy.require_grant(actor, data.role, agency, coordinators_manage)
    # A password nobody knows: she chooses her own through the set-password link.
    return await accounts.create_user(session, username=data.username, agency=agency, role=data.role,
                                      password=secrets.token_urlsafe(32), display_name=data.display_name or None,
                                      agencies=agencies, by=actor)


async def change_account(session: AsyncSession, actor: Actor, user_id: int, data: UserChangeIn, *,
                         agencies: list[str], coordinators_manage: bool) -> User:
    """A new role and agency; her sessions end, so nothing she has open keeps the old rights."""
    user = await _managed(session, actor, user_id, coordinators_manage)
    agency = _agency_for(data.role, data.agency)
    policy.require_grant(actor, data.role, agency, coordinators_manage)
    if agency is not None and agency not in agencies:
        raise Invalid(f"agency must be one of the installed agencies: {', '.join(agencies)}", field="agency")
    if data.role != policy.ADMIN_ROLE and agency is None:
        raise Invalid("everyone but an administrator belongs to an agency", field="agency")
    if (user.role, user.agency) == (data.role, agency):
        return user
    await audit.record(session, actor, "user.changed", subject=f"user:{user.id}", role_from=user.role, role=data.role,
                       agency_from=user.agency, agency=agency)
    user.role, user.agency = data.role, agency
    await accounts.end_sessions(session, user.id)
    return user


async def set_active(session: AsyncSession, actor: Actor, user_id: int, active: bool, *,
                     coordinators_manage: bool) -> User:
    """Deactivated, she can no longer log in or use a token and her sessions end; reactivated, she can again."""
    user = await _managed(session, actor, user_id, coordinators_manage)
    if user.active != active:
        user.active = active
        await accounts.end_sessions(session, user.id)
        await audit.record(session, actor, "user.reactivated" if active else "user.deactivated", subject=f"user:{user.id}")
    return user


# --- one-time set-password links -----------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedLink:
    token: str  # shown once; only its digest is stored
    expires_at: dt.datetime


async def issue_password_link(session: AsyncSession, actor: Actor, user_id: int, *, minutes: int,
                              coordinators_manage: bool) -> IssuedLink:
    """A link with which she sets her own password, once, within ``minutes``. Links issued before
    it stop working: only the newest is valid."""
    user = await _managed(session, actor, user_id, coordinators_manage)
    return await _issue(session, actor, user, minutes)


async def _issue(session: AsyncSession, actor: Actor, user: User, minutes: int) -> IssuedLink:
    now = utcnow()
    await session.execute(update(PasswordLink).where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
                          .values(used_at=now))
    token = secrets.token_urlsafe(32)
    expires_at = now + dt.timedelta(minutes=minutes)
    session.add(PasswordLink(user_id=user.id, token_hash=_digest(token), created_by_id=actor.id, created_at=now,
                             expires_at=expires_at))
    await audit.record(session, actor, "password_link.issued", subject=f"user:{user.id}")
    return IssuedLink(token, expires_at)


async def create_account_with_link(session: AsyncSession, actor: Actor, data: UserIn, *, agencies: list[str],
                                   minutes: int, coordinators_manage: bool) -> tuple[User, IssuedLink]:
    user = await create_account(session, actor, data, agencies=agencies, coordinators_manage=coordinators_manage)
    return user, await _issue(session, actor, user, minutes)


LINK_REFUSAL = "This link is not valid: it has been used, has expired or was replaced. Ask for a new one."


async def user_of_link(session: AsyncSession, token: str) -> User:
    """The active user a still valid link is for, or NotFound."""
    row = (await session.execute(select(PasswordLink, User).join(User, User.id == PasswordLink.user_id).where(
        PasswordLink.token_hash == _digest(token), PasswordLink.used_at.is_(None),
        PasswordLink.expires_at > utcnow(), User.active.is_(True)))).first()
    if row is None:
        raise NotFound(LINK_REFUSAL)
    return row[1]


async def set_password_with_link(session: AsyncSession, token: str, new_password: str, *, min_length: int) -> User:
    """Her password, set through a valid link, which is then spent; every session of hers ends."""
    user_id = (await user_of_link(session, token)).id
    accounts.check_new_password(new_password, min_length=min_length, field="new_password")
    await session.rollback()  # no connection held while the hash is made
    new_hash = await accounts.hash_password(new_password)
    # Spent in the same statement that checks it is still valid: two uses at once cannot both pass.
    spent = await session.execute(update(PasswordLink).where(
        PasswordLink.token_hash == _digest(token), PasswordLink.used_at.is_(None), PasswordLink.expires_at > utcnow())
        .values(used_at=utcnow()))
    if spent.rowcount != 1:
        raise NotFound(LINK_REFUSAL)
    user = await session.get(User, user_id)
    user.password_hash = new_hash
    await accounts.end_sessions(session, user.id)
    await audit.record(session, accounts.actor_of(user), "password.set_by_link", subject=f"user:{user.id}")
    return user
