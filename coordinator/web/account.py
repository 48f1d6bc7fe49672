"""A person's own account: her password, her sessions, her API tokens (pages and their JSON twins)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

import msgspec
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Response, Template
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn.helpers import bytes_to_base64url

from coordinator import accounts, audit, notifications, passkeys, second_factor
from coordinator.accounts import LoginRefused
from coordinator.errors import Conflict, Invalid
from coordinator.limits import Line
from coordinator.models import User
from coordinator.web.auth import (
    ENROL_STEP,
    PASSWORD_MAX,
    client_address,
    current_actor,
    finish_login,
    passkey_challenge,
    passkey_party,
    throttle_of,
)
from coordinator.web.forms import FORM, checked, from_form

Handle = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


@dataclass
class PasswordChangeIn:
    current_password: Line(PASSWORD_MAX)
    new_password: Line(accounts.PASSWORD_MAX_LENGTH)


async def _change_password(request: Request, db: AsyncSession, state: State, data: PasswordChangeIn) -> None:
    """Raises Invalid naming the field, or LoginRefused while throttled; a wrong current password
    is committed (it counts toward throttling) before the refusal goes out."""
    settings = state.settings
    try:
        await accounts.change_password(
            db, request.user.id, current=data.current_password, new=data.new_password,
            address=client_address(request), throttle=throttle_of(settings),
            min_length=settings.password_min_length, keep_session=request.get_session_id())
    except (Invalid, LoginRefused):
        await db.commit()
        raise
    await db.commit()


def _throttled(refusal: LoginRefused) -> Response:
    return Response({"status_code": 429, "detail": refusal.message}, status_code=429,
                    headers={"Retry-After": str(refusal.retry_after)})


async def _account_context(request: Request, db: AsyncSession, state: State) -> dict:
    user_id = request.user.id
    return {
        "sessions": await accounts.sessions_of(db, user_id, current_key=request.get_session_id(),
                                               idle=dt.timedelta(seconds=state.settings.idle_seconds)),
        "tokens": await accounts.tokens_of_user(db, user_id), "token_status": accounts.token_status,
        "notifications": notifications.choices_of(await db.get(User, user_id)),
        "digest_hour": state.settings.digest_hour,
        "passkeys": await passkeys.of_user(db, user_id),
        "min_length": state.settings.password_min_length, "max_length": accounts.PASSWORD_MAX_LENGTH,
        "error": None, "notice": None,
    }


async def _account_page(request: Request, db: AsyncSession, state: State, status: int = 200, **extra: object) -> Template:
    return Template("account.html", status_code=status, context=await _account_context(request, db, state) | extra)


@get("/account")
async def account_page(request: Request, db: NamedDependency[AsyncSession], state: State,
                       done: FromQuery[str | None] = None) -> Template:
    notices = {"password": "Your password is changed; your other sessions have ended.",
               "session": "The session has ended.", "sessions": "Your other sessions have ended.",
               "token": "The token is revoked.", "notifications": "Your notification choices are saved.",
               "passkey": "Your passkey is set up; your other sessions have ended.",
               "passkey_removed": "The passkey is removed; your other sessions have ended."}
    return await _account_page(request, db, state, notice=notices.get(done or ""))


@post("/account/password", opt={FORM: PasswordChangeIn})
async def change_password_page(request: Request, db: NamedDependency[AsyncSession], state: State) -> Response:
    form = await request.form()
    # Read as typed: spaces are part of a password (``from_form`` would strip them).
    raw = {name: value if isinstance(value := form.get(name), str) else "" for name in ("current_password", "new_password")}
    try:
        await _change_password(request, db, state, checked(PasswordChangeIn(**raw)))
    except Invalid as error:
        return await _account_page(request, db, state, status=400, error=error)
    except LoginRefused as refusal:
        return await _account_page(request, db, state, status=429, error=Invalid(refusal.message, field="current_password"))
    return Redirect("/account?done=password", status_code=303)


@post("/account/notifications", opt={FORM: notifications.NotificationChoicesIn})
async def choose_notifications_page(request: Request, db: NamedDependency[AsyncSession], state: State) -> Response:
    try:
        data = from_form(notifications.NotificationChoicesIn, await request.form())
        await notifications.choose(db, current_actor(request), data)
    except Invalid as error:
        return await _account_page(request, db, state, status=400, error=error)
    await db.commit()
    return Redirect("/account?done=notifications", status_code=303)


@post("/account/sessions/{handle:str}/end")
async def end_session_page(request: Request, db: NamedDependency[AsyncSession], handle: FromPath[str]) -> Redirect:
    await accounts.end_session_by_handle(db, current_actor(request), handle)
    await db.commit()
    # Ending the session she is using is logging out.
    ended_own = request.get_session_id() and accounts.session_handle(request.get_session_id()) == handle
    return Redirect("/login" if ended_own else "/account?done=session", status_code=303)


@post("/account/sessions/end-others")
async def end_other_sessions_page(request: Request, db: NamedDependency[AsyncSession]) -> Redirect:
    await _end_others(request, db)
    return Redirect("/account?done=sessions", status_code=303)


async def _end_others(request: Request, db: AsyncSession) -> int:
    ended = await accounts.end_other_sessions(db, request.user.id, request.get_session_id())
    await audit.record(db, current_actor(request), "sessions.ended", subject=f"user:{request.user.id}", count=ended)
    await db.commit()
    return ended


@post("/account/tokens/{token_id:int}/revoke")
async def revoke_token_page(request: Request, db: NamedDependency[AsyncSession], token_id: FromPath[int]) -> Redirect:
    await accounts.revoke_token_of(db, current_actor(request), token_id)
    await db.commit()
    return Redirect("/account?done=token", status_code=303)


# --- the second factor ---------------------------------------------------------------------------

def _enrolment_page(request: Request, secret: str, status: int = 200, error: Invalid | None = None) -> Template:
    uri = second_factor.provisioning_uri(secret, request.user.username)
    return Template("second_factor.html", status_code=status, context={
        "qr": second_factor.qr_svg(uri), "secret": secret, "error": error, "codes": None,
        "required": request.session.get("login_step") == ENROL_STEP})


@get("/account/second-factor", opt={"login_step": ENROL_STEP})
async def second_factor_page(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    """Set up an authenticator app: its secret as a QR code (and as text), then a code from it."""
    if request.user.totp_secret is not None:
        return Template("second_factor.html", context={
            "enrolled": True, "codes_left": await second_factor.recovery_codes_left(db, request.user.id)})
    # Kept in her server-side session until a code proves the app holds it.
    secret = request.session.get("enrolling") or second_factor.new_secret()
    request.session["enrolling"] = secret
    return _enrolment_page(request, secret)


@post("/account/second-factor", opt={"login_step": ENROL_STEP})
async def enrol_second_factor(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    """A code from the app sets it up; the recovery codes are shown on this answer only. Her
    session gets a new id and her other sessions end, as at any change of rights."""
    secret = request.session.get("enrolling")
    if request.user.totp_secret is not None or not secret:
        return Template("second_factor.html", status_code=409, context={
            "enrolled": request.user.totp_secret is not None, "codes_left": None,
            "error": Invalid("Open the set-up page again to get a new code to scan.")})
    code = value if isinstance(value := (await request.form()).get("code"), str) else ""
    user = await db.get(User, request.user.id)
    try:
        codes = await second_factor.enrol(db, user, secret, code[:40])
    except Invalid as error:
        return _enrolment_page(request, secret, status=400, error=error)
    await accounts.end_other_sessions(db, user.id, request.get_session_id())
    await db.commit()
    return Template("second_factor.html", context={"codes": codes, "next": finish_login(request)})


# --- passkeys -----------------------------------------------------------------------------------

@dataclass
class PasskeyIn:
    credential: Line(passkeys.CREDENTIAL_MAX)  # the browser's answer, as JSON text
    name: Line(passkeys.NAME_MAX) = ""


def _after_factor_change(request: Request) -> str:
    """A change of her second factor: a fresh session id (as at any change of rights); where she was
    setting one up to finish logging in, the login is done. Returns the page to go on to."""
    finishing = request.session.get("login_step") == ENROL_STEP
    target = finish_login(request)
    return target if finishing else "/account?done=passkey"


def _browser_only(request: Request) -> None:
    if request.auth != "session":
        raise Conflict("passkeys are set up and removed in a browser, from the account page")


@post("/api/account/passkeys/options", status_code=200, opt={"login_step": ENROL_STEP})
async def passkey_registration_options(request: Request, db: NamedDependency[AsyncSession], state: State) -> Response:
    """The options for the browser's navigator.credentials.create; their challenge is kept in her session."""
    _browser_only(request)
    options, challenge = passkeys.registration_options(
        request.user, await passkeys.of_user(db, request.user.id), passkey_party(request, state.settings))
    request.session["passkey_challenge"] = bytes_to_base64url(challenge)
    return Response(options, media_type="application/json")


@post("/api/account/passkeys", status_code=201, opt={"login_step": ENROL_STEP})
async def register_passkey(request: Request, db: NamedDependency[AsyncSession], state: State,
                           data: JSONBody[PasskeyIn]) -> dict:
    """Keep the passkey the browser made; her other sessions end. Answers the page to go on to."""
    _browser_only(request)
    challenge = passkey_challenge(request)
    if challenge is None:
        raise Conflict("Open the page again to set up a passkey.")
    user = await db.get(User, request.user.id)
    await passkeys.register(db, user, credential=data.credential, name=data.name, challenge=challenge,
                            party=passkey_party(request, state.settings))
    await accounts.end_other_sessions(db, user.id, request.get_session_id())
    await db.commit()
    return {"next": _after_factor_change(request)}


@post("/account/passkeys/{passkey_id:int}/remove")
async def remove_passkey_page(request: Request, db: NamedDependency[AsyncSession], passkey_id: FromPath[int]) -> Redirect:
    _browser_only(request)
    await passkeys.remove(db, current_actor(request), passkey_id)
    await accounts.end_other_sessions(db, request.user.id, request.get_session_id())
    await db.commit()
    _after_factor_change(request)
    return Redirect("/account?done=passkey_removed", status_code=303)


# --- JSON ----------------------------------------------------------------------------------------

def _token_json(token) -> dict:  # noqa: ANN001
    return {"id": token.id, "status": accounts.token_status(token), "created_at": token.created_at,
            "expires_at": token.expires_at, "revoked_at": token.revoked_at}


@get("/api/account")
async def account(request: Request, db: NamedDependency[AsyncSession], state: State) -> dict:
    """Who she is, her open sessions (device, address, last used) and her API tokens."""
    context = await _account_context(request, db, state)
    user = request.user
    return {"username": user.username, "display_name": user.display_name, "agency": user.agency, "role": user.role,
            "second_factor": await second_factor.enrolled(db, user),
            "passkeys": [{"id": p.id, "name": p.name, "created_at": p.created_at, "last_used_at": p.last_used_at}
                         for p in context["passkeys"]],
            "sessions": [{"handle": s.handle, "device": s.device, "address": s.address, "started_at": s.started_at,
                          "last_used_at": s.last_used_at, "current": s.current} for s in context["sessions"]],
            "tokens": [_token_json(t) for t in context["tokens"]],
            "notifications": msgspec.to_builtins(context["notifications"])}


@post("/api/account/notifications", status_code=200)
async def choose_notifications(request: Request, db: NamedDependency[AsyncSession],
                               data: JSONBody[notifications.NotificationChoicesIn]) -> dict:
    """Where and how she is told of what concerns her: e-mail (an address, or none), her agency's
    own system, and once a day or at once. Messages carry a reference and a link, never case content."""
    user = await notifications.choose(db, current_actor(request), data)
    await db.commit()
    return msgspec.to_builtins(notifications.choices_of(user))


@post("/api/account/password", status_code=200)
async def change_password(request: Request, db: NamedDependency[AsyncSession], state: State,
                          data: JSONBody[PasswordChangeIn]) -> Response:
    """Change her password (the current one is required); her other sessions end."""
    try:
        await _change_password(request, db, state, data)
    except LoginRefused as refusal:
        return _throttled(refusal)
    return Response({"changed": True})


@post("/api/account/sessions/{handle:str}/end", status_code=200)
async def end_session(request: Request, db: NamedDependency[AsyncSession], handle: FromPath[Handle]) -> dict:
    await accounts.end_session_by_handle(db, current_actor(request), handle)
    await db.commit()
    return {"ended": 1}


@post("/api/account/sessions/end-others", status_code=200)
async def end_other_sessions(request: Request, db: NamedDependency[AsyncSession]) -> dict:
    """End every session of hers but the one asking (with a token: all of them)."""
    return {"ended": await _end_others(request, db)}


@post("/api/account/tokens/{token_id:int}/revoke", status_code=200)
async def revoke_token(request: Request, db: NamedDependency[AsyncSession], token_id: FromPath[int]) -> dict:
    token = await accounts.revoke_token_of(db, current_actor(request), token_id)
    await db.commit()
    return _token_json(token)


ROUTES = [passkey_registration_options, register_passkey, remove_passkey_page, second_factor_page, enrol_second_factor,
          account_page, change_password_page, choose_notifications_page, end_session_page, end_other_sessions_page,
          revoke_token_page, account, change_password, choose_notifications, end_session, end_other_sessions, revoke_token]
