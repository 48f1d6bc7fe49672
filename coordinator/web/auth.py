"""Who is asking: session cookie or bearer token; login and logout (the probes are in ``web.probes``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import MediaType, RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import MiddlewareProtocol
from litestar.middleware.csrf import CSRFMiddleware
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromQuery, JSONBody
from litestar.response import Redirect, Response, Template
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from coordinator import accounts, audit, passkeys, policy, second_factor, single_sign_on
from coordinator.accounts import LoginRefused, TokenRefused, actor_of
from coordinator.errors import Conflict, Invalid
from coordinator.limits import Line
from coordinator.models import User
from coordinator.policy import Actor
from coordinator.settings import Settings
from coordinator.web.sessions import loaded_user

PUBLIC_PATHS = {"/health", "/ready", "/metrics", "/login"}
PUBLIC_PREFIXES = ("/static/",)
USERNAME_MAX = 80  # as stored
PASSWORD_MAX = 1024  # hashing a megabyte on every try would be a cheap way to load the server


# A login in two steps: after the password, a session holds ``login_step`` until the step is done,
# and reaches only the routes whose ``opt`` names that step (or ANY_STEP, logging out).
CODE_STEP, ENROL_STEP, ANY_STEP = "code", "enrol", "any"
STEP_PAGES = {CODE_STEP: "/login/code", ENROL_STEP: "/account/second-factor"}
STEP_REFUSALS = {CODE_STEP: "finish logging in: enter the code from your authenticator app (or use your passkey) at /login/code",
                 ENROL_STEP: "your role needs a second factor: set one up at /account/second-factor"}


class LoginStepNeeded(NotAuthorizedException):
    """The password was right, but the login is not finished (a code to enter, a factor to set up)."""

    def __init__(self, step: str) -> None:
        super().__init__(STEP_REFUSALS[step])
        self.location = STEP_PAGES[step]


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin-1").strip()
    return None


class UserMiddleware(AbstractAuthenticationMiddleware):
    """Every route but the login page, the health check and static files needs a user."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        sessionmaker = connection.app.state.sessionmaker
        token = bearer_token(connection.scope)
        if token is not None:
            async with sessionmaker() as db:
                try:
                    return AuthenticationResult(user=await accounts.user_for_token(db, token), auth="token")
                except TokenRefused as refusal:
                    raise NotAuthorizedException(refusal.message) from None
        user_id = connection.scope.get("session", {}).get("user_id") if "session" in connection.scope else None
        if user_id is None:
            raise NotAuthorizedException("log in first")
        user = loaded_user(connection.scope, user_id)  # read with the session, in its statement
        if user is None:
            async with sessionmaker() as db:
                user = await db.get(User, user_id)
        if user is None or not user.active:
            raise NotAuthorizedException("your account is no longer active")
        step = connection.scope["session"].get("login_step")
        if step is not None and connection.route_handler.opt.get("login_step") not in (step, ANY_STEP):
            raise LoginStepNeeded(step)
        return AuthenticationResult(user=user, auth="session")


class CsrfUnlessBearer(MiddlewareProtocol):
    """CSRF protects cookie-authenticated requests; a bearer token is never sent by a browser
    on its own, so token requests (scripts) skip the CSRF check."""

    def __init__(self, app: ASGIApp, config: Any) -> None:
        self.app = app
        self.csrf = CSRFMiddleware(app, config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and bearer_token(scope) is not None:
            await self.app(scope, receive, send)
        else:
            await self.csrf(scope, receive, send)


def current_actor(request: Request) -> Actor:
    return actor_of(request.user)


def login_template(settings: Settings, *, status: int = 200, headers: dict[str, str] | None = None,
                   error: str | None = None, notice: str | None = None, username: str = "", next: str = "/") -> Template:
    """The login page: the password form, and a button for each agency whose staff sign in at their own provider."""
    return Template("login.html", status_code=status, headers=headers, context={
        "error": error, "notice": notice, "username": username, "next": next,
        "sign_on": [provider.agency for provider in settings.sign_on]})


@get("/login", exclude_from_auth=True, sync_to_thread=False)
def login_page(state: State, next: FromQuery[str | None] = None, done: FromQuery[str | None] = None) -> Template:
    notice = "Your password is set: log in with it." if done == "password" else None
    return login_template(state.settings, next=safe_next(next), notice=notice)


def safe_next(target: str | None) -> str:
    # Only local paths: never bounce a user to another site after login ("//host" and "/\\host"
    # are other sites to a browser), and nothing that could not be a header value.
    if (not target or not target.startswith("/") or target[1:2] in ("/", "\\") or len(target) > 2000
            or any(c < " " or c == "\x7f" for c in target)):
        return "/"
    return target


def _same_site_path(request: Request, url: str | None) -> str:
    """The path (and query) of ``url`` if it is a page of this site, else "/"."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or parts.netloc != request.url.netloc:
        return "/"
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def login_url(request: Request) -> str:
    """Where an unauthenticated browser logs in, returning afterwards to a page it can GET: the
    page htmx is showing, the page itself for a GET, else the page the form was on."""
    if is_htmx(request):
        target = _same_site_path(request, request.headers.get("hx-current-url"))
    elif request.method == "GET":
        target = safe_next(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    else:
        target = _same_site_path(request, request.headers.get("referer"))
    return "/login?" + urlencode({"next": target})


def throttle_of(settings: Settings) -> accounts.Throttle:
    return accounts.Throttle(max_failures=settings.login_max_failures,
                             window=dt.timedelta(minutes=settings.login_window_minutes),
                             first_delay=dt.timedelta(seconds=settings.login_delay_seconds))


def client_address(request: Request) -> str:
    # The peer as the server sees it: behind a reverse proxy that is the proxy (see README).
    return (request.client.host if request.client else "")[:64] or "unknown"


def _bad_login_input(username: str, password: str) -> str | None:
    # Longer than any stored value, or with characters no database column takes: refused before
    # the query, as a mistake in the form rather than a failed attempt.
    if len(username) > USERNAME_MAX:
        return f"The username is at most {USERNAME_MAX} characters."
    if len(password) > PASSWORD_MAX:
        return f"The password is at most {PASSWORD_MAX} characters."
    if "\x00" in username or "\x00" in password:
        return "The username or password contains a character that is not allowed."
    return None


@post("/login", exclude_from_auth=True, responses={
    429: ResponseSpec(data_container=str, media_type=MediaType.HTML, generate_examples=False,
                      description="too many failed attempts: try again after Retry-After seconds")})
async def login(
    request: Request, db: NamedDependency[AsyncSession], state: State,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    settings = state.settings
    username, password = (data.get("username") or "").strip(), data.get("password") or ""
    target = safe_next(data.get("next"))

    def refused(status: int, message: str, headers: dict[str, str] | None = None) -> Template:
        return login_template(settings, status=status, headers=headers, error=message,
                              username=username[:USERNAME_MAX], next=target)

    if problem := _bad_login_input(username, password):
        return refused(400, problem)
    try:
        user = await accounts.authenticate(
            db, username=username, password=password, address=client_address(request), throttle=throttle_of(settings),
        )
    except LoginRefused as refusal:
        await db.commit()  # the failure counts toward throttling whatever happens next
        if refusal.throttled:
            return refused(429, refusal.message, {"Retry-After": str(refusal.retry_after)})
        return refused(401, refusal.message)
    return await start_session(request, db, settings, user, target)


# What a single sign-on's session keeps for its logout at the provider, through every login step.
SIGN_ON_KEYS = ("sign_on", "id_token")


async def start_session(request: Request, db: AsyncSession, settings: Settings, user: User, target: str,
                        **kept: str) -> Redirect:
    """The first factor is done (a password, or the agency's sign-in): her session starts, at the
    second step where she has (or must set up) a second factor."""
    await accounts.sweep_expired_sessions(db)
    await db.commit()
    # Cleared first, so the session gets a new id: one known before login is worth nothing.
    request.clear_session()
    if await second_factor.enrolled(db, user):
        request.set_session({"user_id": user.id, "login_step": CODE_STEP, "next": target, **kept})
        return Redirect(STEP_PAGES[CODE_STEP], status_code=303)
    if policy.second_factor_required(user.role, settings.second_factor_roles):
        request.set_session({"user_id": user.id, "login_step": ENROL_STEP, "next": target, **kept})
        return Redirect(STEP_PAGES[ENROL_STEP], status_code=303)
    request.set_session({"user_id": user.id, **kept})
    return Redirect(target, status_code=303)


def finish_login(request: Request) -> str:
    """The last step is done: a fresh session id (as at any change of rights) with full rights.
    Returns the page she first asked for."""
    target = safe_next(request.session.get("next"))
    kept = {key: request.session[key] for key in SIGN_ON_KEYS if key in request.session}
    request.clear_session()
    request.set_session({"user_id": request.user.id, **kept})
    return target


def _require_code_step(request: Request) -> None:
    if request.session.get("login_step") != CODE_STEP:
        raise Conflict("there is no code to enter: log in with your password first")


def site_origin(request: Request, settings: Settings) -> str:
    """Where people reach the server: the configured origin, else the one this request was sent to."""
    return settings.public_origin or f"{request.url.scheme}://{request.url.netloc}"


def passkey_party(request: Request, settings: Settings) -> passkeys.Party:
    """The origin passkeys are bound to."""
    return passkeys.Party(site_origin(request, settings))


def passkey_challenge(request: Request) -> bytes | None:
    """The challenge kept for the passkey ceremony under way, spent now: each answers once."""
    kept = request.session.pop("passkey_challenge", None)
    return base64url_to_bytes(kept) if isinstance(kept, str) else None


async def _code_page(request: Request, db: AsyncSession, *, status: int = 200, error: Invalid | None = None,
                     headers: dict[str, str] | None = None) -> Template:
    user = await db.get(User, request.user.id)
    return Template("login_code.html", status_code=status, headers=headers, context={
        "error": error, "app": user.totp_secret is not None,
        "passkey": bool(await passkeys.of_user(db, user.id))})


@get("/login/code", opt={"login_step": CODE_STEP})
async def code_page(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    _require_code_step(request)
    return await _code_page(request, db)


@post("/login/code", opt={"login_step": CODE_STEP}, responses={
    429: ResponseSpec(data_container=str, media_type=MediaType.HTML, generate_examples=False,
                      description="too many failed attempts: try again after Retry-After seconds")})
async def enter_code(request: Request, db: NamedDependency[AsyncSession], state: State) -> Template | Redirect:
    """The code from her authenticator app, or one of her recovery codes (form field ``code``)."""
    _require_code_step(request)
    code = value if isinstance(value := (await request.form()).get("code"), str) else ""
    try:
        if len(code) > 40:
            raise LoginRefused("That code is not right, or has been used already.")
        user = await db.get(User, request.user.id)
        await second_factor.verify(db, user, code, address=client_address(request), throttle=throttle_of(state.settings))
    except LoginRefused as refusal:
        await db.commit()  # the failure counts toward throttling
        headers = {"Retry-After": str(refusal.retry_after)} if refusal.throttled else None
        return await _code_page(request, db, status=429 if refusal.throttled else 401, headers=headers,
                                error=Invalid(refusal.message, field="code"))
    await db.commit()
    return Redirect(finish_login(request), status_code=303)


@dataclass
class PasskeyAnswerIn:
    credential: Line(passkeys.CREDENTIAL_MAX)  # the browser's answer, as JSON text


def _browser_login(request: Request) -> None:
    if request.auth != "session":
        raise Conflict("a passkey finishes a login in a browser")
    _require_code_step(request)


@post("/api/login/passkey/options", status_code=200, opt={"login_step": CODE_STEP})
async def passkey_login_options(request: Request, db: NamedDependency[AsyncSession], state: State) -> Response:
    """The options for the browser's navigator.credentials.get: her passkeys and a new challenge."""
    _browser_login(request)
    mine = await passkeys.of_user(db, request.user.id)
    if not mine:
        raise Conflict("you have no passkey: enter the code from your authenticator app")
    options, challenge = passkeys.authentication_options(mine, passkey_party(request, state.settings))
    request.session["passkey_challenge"] = bytes_to_base64url(challenge)
    return Response(options, media_type=MediaType.JSON)


@post("/api/login/passkey", status_code=200, opt={"login_step": CODE_STEP}, responses={
    429: ResponseSpec(data_container=dict, generate_examples=False,
                      description="too many failed attempts: try again after Retry-After seconds")})
async def passkey_login(request: Request, db: NamedDependency[AsyncSession], state: State,
                        data: JSONBody[PasskeyAnswerIn]) -> Response:
    """Her passkey's answer finishes the login; answers the page to go on to."""
    _browser_login(request)
    user = await db.get(User, request.user.id)
    try:
        await passkeys.verify(db, user, data.credential, challenge=passkey_challenge(request),
                              party=passkey_party(request, state.settings), address=client_address(request),
                              throttle=throttle_of(state.settings))
    except LoginRefused as refusal:
        await db.commit()  # the failure counts toward throttling
        status = 429 if refusal.throttled else 401
        return Response({"status_code": status, "detail": refusal.message}, status_code=status,
                        headers={"Retry-After": str(refusal.retry_after)} if refusal.throttled else None)
    await db.commit()
    return Response({"next": finish_login(request)})


@post("/logout", opt={"login_step": ANY_STEP})
async def logout(request: Request, db: NamedDependency[AsyncSession], state: State) -> Redirect:
    """End her session here; signed in through her agency, she is sent on to end it there too."""
    session_key = request.get_session_id()
    signed_on = {key: request.session.get(key) for key in SIGN_ON_KEYS} if session_key is not None else {}
    if session_key is not None:  # a bearer-token caller has no session to end
        await accounts.end_sessions(db, request.user.id, session_key)
    await audit.record(db, current_actor(request), "logout", subject=f"user:{request.user.id}")
    await db.commit()
    request.clear_session()
    provider = next((p for p in state.settings.sign_on if p.agency == signed_on.get("sign_on")), None)
    if provider is None:
        return Redirect("/login", status_code=303)
    back = f"{site_origin(request, state.settings)}/login"
    return Redirect(await single_sign_on.end_session_url(provider, signed_on.get("id_token"), back) or "/login",
                    status_code=303)
