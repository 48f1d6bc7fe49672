"""The second factor: a TOTP authenticator app (RFC 6238, pyotp), with single-use recovery codes.

A code is accepted for its own 30-second step or the one either side (clocks drift), and never for
a step at or before the last one accepted, so a code seen over someone's shoulder is worthless once
used. Wrong codes are throttled exactly like wrong passwords (the same counter). Recovery codes are
stored as digests and spent on use."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, audit, passkeys, policy
from coordinator.accounts import LoginRefused, Throttle
from coordinator.errors import Invalid, NotFound
from coordinator.models import Passkey, RecoveryCode, User, utcnow
from coordinator.policy import Actor

ISSUER = "Case Conference Coordinator"
RECOVERY_CODE_COUNT = 10
DRIFT_STEPS = 1  # steps accepted either side of the current one


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as an inline SVG made on the server (no script, no request elsewhere)."""
    return segno.make(uri, error="m").svg_inline(scale=4, light="#fff", title="QR code for your authenticator app")


def _normalised(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step ``code`` is right for (the current one or one either side), or None."""
    totp, now = pyotp.TOTP(secret), time.time() if now is None else now
    current = int(now // totp.interval)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _digest(code: str) -> str:
    return hashlib.sha256(_normalised(code).encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


async def replace_recovery_codes(session: AsyncSession, user_id: int, codes: list[str]) -> None:
    """Her recovery codes from now on: these (stored as digests), none of the earlier ones."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.add_all(RecoveryCode(user_id=user_id, code_hash=_digest(c)) for c in codes)


async def _accept_step(session: AsyncSession, user_id: int, step: int) -> bool:
    """Record ``step`` as the last one used, if no later or equal one was: in one statement, so the
    same code sent twice at once passes once."""
    accepted = await session.execute(update(User).where(
        User.id == user_id, (User.totp_last_step.is_(None)) | (User.totp_last_step < step)).values(totp_last_step=step))
    return accepted.rowcount == 1


async def enrol(session: AsyncSession, user: User, secret: str, code: str) -> list[str]:
    """Set up the authenticator app whose secret is ``secret``, proved by a code from it; the new
    recovery codes (replacing any earlier ones) are returned to be shown once."""
    step = matching_step(secret, _normalised(code))
    if step is None:
        raise Invalid("That code does not match: check the app's clock and enter the code it shows now.", field="code")
    user.totp_secret, user.totp_last_step = secret, step
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    await replace_recovery_codes(session, user.id, codes)
    await audit.record(session, accounts.actor_of(user), "second_factor.enrolled", subject=f"user:{user.id}")
    return codes


async def verify(session: AsyncSession, user: User, code: str, *, address: str, throttle: Throttle) -> None:
    """Accept a code from her app or one of her recovery codes, or raise LoginRefused. Counted and
    throttled with her password failures; commit whatever happens."""
    await accounts.refuse_if_throttled(session, user.username, address, throttle)
    code = _normalised(code)
    if code.isdigit():
        step = matching_step(user.totp_secret or "", code) if user.totp_secret else None
        ok = step is not None and await _accept_step(session, user.id, step)
        how = "code"
    else:
        spent = await session.execute(update(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(code), RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow()))
        ok, how = spent.rowcount == 1, "recovery_code"
    if not ok:
        await accounts.count_failure(session, user.username, address, "second_factor.failed", throttle)
        raise LoginRefused("That code is not right, or has been used already.")
    await accounts.forget_failures(session, user.username, address)
    await audit.record(session, accounts.actor_of(user), "second_factor.passed", subject=f"user:{user.id}", means=how)


async def enrolled(session: AsyncSession, user: User) -> bool:
    """Whether she has a second factor: the authenticator app, a passkey, or both."""
    return user.totp_secret is not None or (await session.execute(
        select(Passkey.id).where(Passkey.user_id == user.id).limit(1))).first() is not None


async def passkey_holders(session: AsyncSession) -> set[int]:
    """The users with at least one passkey."""
    return set((await session.execute(select(Passkey.user_id).distinct())).scalars())


async def recovery_codes_left(session: AsyncSession, user_id: int) -> int:
    return (await session.execute(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)))).scalar_one()


async def reset(session: AsyncSession, actor: Actor, user_id: int) -> User:
    """An administrator removes someone's second factor, app and passkeys (lost phone): her sessions end, and she
    sets up a new one at her next login where her role requires it."""
    user = await session.get(User, user_id) if 0 < user_id < 2**31 else None
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    policy.require_second_factor_resetter(actor, user.id)
    user.totp_secret, user.totp_last_step = None, None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await passkeys.remove_all(session, user.id)
    await accounts.end_sessions(session, user.id)
    await audit.record(session, actor, "second_factor.reset", subject=f"user:{user.id}")
    return user
