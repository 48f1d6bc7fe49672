"""Who is asking: session cookie or bearer token; login, logout and the health check."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import MiddlewareProtocol
from litestar.middleware.csrf import CSRFMiddleware
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, audit
from coordinator.accounts import LoginRefused, actor_of
from coordinator.models import User

PUBLIC_PATHS = {"/health", "/login"}
PUBLIC_PREFIXES = ("/static/",)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin-1").strip()
    return None


class UserMiddleware(AbstractAuthenticationMiddleware):
    """Every route but the login page, the health check and static files needs a user."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        state = connection.app.state
        token = bearer_token(connection.scope)
        async with state.sessionmaker() as db:
            if token is not None:
                user = await accounts.user_for_token(db, token)
                if user is None:
                    raise NotAuthorizedException("the API token is not valid")
                return AuthenticationResult(user=user, auth="token")
            user_id = connection.scope.get("session", {}).get("user_id") if "session" in connection.scope else None
            if user_id is None:
                raise NotAuthorizedException("log in first")
            user = await db.get(User, user_id)
        if user is None or not user.active:
            raise NotAuthorizedException("your account is no longer active")
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


def current_actor(request: Request) -> audit.Actor:
    return actor_of(request.user)


@get("/health", exclude_from_auth=True, sync_to_thread=False, include_in_schema=False)
def liveness() -> dict[str, str]:
    return {"status": "ok"}


@get("/login", exclude_from_auth=True, sync_to_thread=False)
def login_page(request: Request, next: FromQuery[str | None] = None) -> Template:
    return Template("login.html", context={"error": None, "username": "", "next": _safe_next(next)})


def _safe_next(target: str | None) -> str:
    # Only local paths: never bounce a user to another site after login.
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@post("/login", exclude_from_auth=True)
async def login(
    request: Request, db: NamedDependency[AsyncSession], state: State,
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    settings = state.settings
    username = (data.get("username") or "").strip()
    try:
        user = await accounts.authenticate(
            db, username=username, password=data.get("password") or "",
            max_failures=settings.login_max_failures, window=dt.timedelta(minutes=settings.login_window_minutes),
        )
    except LoginRefused as refused:
        await db.commit()  # the failure counts toward throttling whatever happens next
        return Template("login.html", status_code=429 if refused.throttled else 401,
                        context={"error": refused.message, "username": username, "next": _safe_next(data.get("next"))})
    await db.commit()
    request.clear_session()
    request.set_session({"user_id": user.id})
    return Redirect(_safe_next(data.get("next")), status_code=303)


@post("/logout")
async def logout(request: Request, db: NamedDependency[AsyncSession]) -> Redirect:
    await audit.record(db, current_actor(request), "logout", subject=f"user:{request.user.id}")
    await db.commit()
    request.clear_session()
    return Redirect("/login", status_code=303)
