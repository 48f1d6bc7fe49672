"""Login sessions in the database: they survive a restart, are shared by every server process,
and an idle session expires (its expiry is pushed on as it is used).

Litestar's server-side session backend stores whatever id the client's cookie names, and stores
a row even for an empty session. Here instead:

- only an id the server issued and still holds is ever loaded; any other cookie value (forged,
  expired, malformed, over-long) counts as no session and is never written under;
- an empty session (anyone not logged in) writes nothing;
- a session gets a fresh id whenever the handler clears it (login, any change of rights) or
  its user changes, and the old row goes in the same transaction, so an id known before login
  is worthless after it;
- an existing session is only ever updated, never re-created: a request still in flight when
  its session ended (logout elsewhere, deactivation) cannot bring the row back.

Litestar asks the store to renew the session on every request and to save it on every
response. Writing the same row twice per request would cost every live change a few
milliseconds, so an unchanged session is rewritten only when its expiry has fallen more than
RENEW_SLACK behind: the idle limit then holds to within that slack. The session is loaded with
its user in one statement (the authentication reads the user from it), and a response that
leaves the session as it was loaded writes nothing and reads nothing again: the load renewed it.
Every request still reads its session from the database, so a session ended by any process, or
a user deactivated from the command line, refuses the very next request."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator.models import User, WebSession, utcnow

RENEW_SLACK = dt.timedelta(seconds=60)
COOKIE = "session"  # the live websocket reads this cookie too
ID_BYTES = 32
_ISSUED_ID = re.compile(f"[0-9a-f]{{{ID_BYTES * 2}}}")
_LOADED = "coordinator.session"  # scope state: the session this request loaded (a Loaded)
# Built once: every request runs it.
_SESSION_WITH_USER = (select(WebSession, User).outerjoin(User, User.id == WebSession.user_id)
                      .where(WebSession.key == bindparam("key")))


@dataclass(frozen=True)
class Loaded:
    """A session as a request loaded it: its id, its stored data, and its user (active or not:
    whether an inactive user may do anything is the authentication's decision)."""

    key: str
    data: bytes
    user_id: int
    user: User | None


USER_AGENT_MAX = 300  # as stored


def _printable(value: str, limit: int) -> str:
    """At most ``limit`` characters of ``value`` without control characters (a header is anyone's to write)."""
    return "".join(c for c in value if c.isprintable())[:limit]


def loaded_user(scope: dict, user_id: int) -> User | None:
    """The user loaded with this request's session, if it is ``user_id``: no second lookup."""
    loaded: Loaded | None = scope.get("state", {}).get(_LOADED)
    return loaded.user if loaded is not None and loaded.user is not None and loaded.user.id == user_id else None


def _slack(wanted: dt.datetime) -> dt.timedelta:
    """RENEW_SLACK, or a quarter of the idle limit where that is shorter (a short limit would
    otherwise never be renewed)."""
    return min(RENEW_SLACK, (wanted - utcnow()) / 4)


def _stale(current: dt.datetime | None, wanted: dt.datetime | None) -> bool:
    """Whether the stored expiry lags the wanted one by more than the slack."""
    if current is None or wanted is None:
        return current != wanted
    return wanted - current > _slack(wanted)


def _expiry(expires_in: int | dt.timedelta | None) -> dt.datetime | None:
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, dt.timedelta) else expires_in
    return utcnow() + dt.timedelta(seconds=seconds)


class DatabaseSessionStore(Store):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def create(self, key: str, value: bytes, expires_in: int, *, user_id: int, replacing: str | None,
                     user_agent: str | None = None, address: str | None = None) -> None:
        """Store a newly issued session, removing the one it replaces in the same transaction."""
        async with self._sessionmaker() as db:
            if replacing is not None:
                await db.execute(delete(WebSession).where(WebSession.key == replacing))
            db.add(WebSession(key=key, user_id=user_id, data=value, expires_at=_expiry(expires_in),
                              user_agent=user_agent, address=address))
            await db.commit()

    async def set(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None) -> None:
        """Update an existing session; one that has ended meanwhile stays ended."""
        data = value.encode() if isinstance(value, str) else value
        async with self._sessionmaker() as db:
            row = await db.get(WebSession, key)
            expires_at = _expiry(expires_in)
            if row is None or (row.data == data and not _stale(row.expires_at, expires_at)):
                return
            await db.execute(update(WebSession).where(WebSession.key == key).values(data=data, expires_at=expires_at))
            await db.commit()

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        loaded = await self.load(key, renew_for)
        return loaded.data if loaded is not None else None

    async def load(self, key: str, renew_for: int | dt.timedelta | None = None) -> Loaded | None:
        """The session under ``key`` with its user, in one statement; renewed if its expiry lags
        by more than the slack; None (and deleted) once expired."""
        async with self._sessionmaker() as db:
            found = (await db.execute(_SESSION_WITH_USER, {"key": key})).first()
            if found is None:
                return None
            row, user = found
            if row.expires_at is not None and row.expires_at <= utcnow():
                await db.execute(delete(WebSession).where(WebSession.key == key))
                await db.commit()
                return None
            if renew_for is not None and _stale(row.expires_at, _expiry(renew_for)):
                await db.execute(update(WebSession).where(WebSession.key == key).values(expires_at=_expiry(renew_for)))
                await db.commit()
            return Loaded(key, row.data, row.user_id, user)

    async def delete(self, key: str) -> None:
        async with self._sessionmaker() as db:
            await db.execute(delete(WebSession).where(WebSession.key == key))
            await db.commit()

    async def delete_all(self) -> None:
        async with self._sessionmaker() as db:
            await db.execute(delete(WebSession))
            await db.commit()

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        async with self._sessionmaker() as db:
            expires_at = (await db.execute(select(WebSession.expires_at).where(WebSession.key == key))).scalar()
        if expires_at is None:
            return None
        return max(0, int((expires_at - utcnow()).total_seconds()))


class IssuedSessionBackend(ServerSideSessionBackend):
    """Sessions under ids this server issued, and only once someone has logged in."""

    def _cookie_id(self, connection: ASGIConnection) -> str | None:
        value = connection.cookies.get(self.config.key)
        # Checked before any lookup: an over-long or odd value never reaches the database.
        return value if value and _ISSUED_ID.fullmatch(value) else None

    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        session_id = self._cookie_id(connection)
        if session_id is not None:
            store: DatabaseSessionStore = self.config.get_store_from_app(connection.scope["app"])  # type: ignore[assignment]
            loaded = await store.load(session_id, renew_for=self.config.max_age if self.config.renew_on_access else None)
            if loaded is not None:
                connection.scope.setdefault("state", {})[_LOADED] = loaded
                return self.deserialize_data(loaded.data)
        return {}

    def _loaded(self, connection: ASGIConnection) -> Loaded | None:
        return connection.scope.get("state", {}).get(_LOADED)

    def get_session_id(self, connection: ASGIConnection) -> str | None:  # type: ignore[override]
        """The loaded session's id, or None: an id exists only once the server has issued it."""
        loaded = self._loaded(connection)
        return loaded.key if loaded is not None else None

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        store: DatabaseSessionStore = self.config.get_store_from_app(connection.scope["app"])  # type: ignore[assignment]
        headers = MutableScopeHeaders.from_message(message)
        loaded = self._loaded(connection)
        loaded_key = loaded.key if loaded is not None else None
        user_id = scope_session.get("user_id") if isinstance(scope_session, dict) else None
        if user_id is None:  # logged out, or never logged in: nothing to keep
            if loaded_key is not None:
                await store.delete(loaded_key)
            if connection.cookies.get(self.config.key):
                headers.add("Set-Cookie", self._cookie("null", expires=0))
            return
        data = self.serialize_data(scope_session, connection.scope)
        session_id = connection.get_session_id()  # None once the handler cleared the session
        if session_id is None or loaded is None or user_id != loaded.user_id:  # whoever it is, a new user gets a new id
            session_id = self.generate_session_id()
            await store.create(session_id, data, self.config.max_age, user_id=user_id, replacing=loaded_key,
                               user_agent=_printable(connection.headers.get("user-agent") or "", USER_AGENT_MAX) or None,
                               address=(connection.client.host if connection.client else None))
        elif data != loaded.data:  # unchanged, it was renewed as it was loaded
            await self.set(session_id, data, store=store)
        headers.add("Set-Cookie", self._cookie(session_id))

    def _cookie(self, value: str, **extra: Any) -> str:
        params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))
        return Cookie(value=value, key=self.config.key, **params, **extra).to_header(header="")


@dataclass
class SessionConfig(ServerSideSessionConfig):
    _backend_class = IssuedSessionBackend  # type: ignore[assignment]


def session_config(*, idle_seconds: int, secure: bool, exclude: list[str]) -> SessionConfig:
    """``exclude``: path patterns that never need a session (static files: no lookup per asset;
    the expiry a page asks about, which must not count as use)."""
    return SessionConfig(key=COOKIE, session_id_bytes=ID_BYTES, max_age=idle_seconds, renew_on_access=True,
                         httponly=True, samesite="lax", secure=secure, exclude=[*exclude, f"^{EXPIRY_PATH}$"])


async def renew_sessions(db: AsyncSession, keys: set[str], seconds: int) -> None:
    """Push on the expiry of these sessions as if they had just been used (one statement for
    all; only those lagging by more than the slack are written). Ended sessions stay ended."""
    if not keys:
        return
    wanted = _expiry(seconds)
    await db.execute(update(WebSession).where(WebSession.key.in_(keys), WebSession.expires_at < wanted - _slack(wanted))
                     .values(expires_at=wanted))


# --- the page's own questions about its session ----------------------------------------------

EXPIRY_PATH = "/api/session/expiry"


def _seconds_left(expires_at: dt.datetime | None) -> int | None:
    return None if expires_at is None else max(0, int((expires_at - utcnow()).total_seconds()))


@get(EXPIRY_PATH, exclude_from_auth=True)
async def session_expiry(request: Request) -> Response[dict]:
    """How long the caller's session has left, without counting as use (the session middleware
    skips this path): a page asks before it warns, as an open live meeting may have renewed it.
    The browser's copy of the cookie is given the same time left, so a session the server kept
    (for a listener, say) is not dropped by the browser at its old expiry."""
    key = request.cookies.get(COOKIE)
    if not key or not _ISSUED_ID.fullmatch(key):
        return Response({"seconds_left": 0})
    async with request.app.state.sessionmaker() as db:
        expires_at = (await db.execute(select(WebSession.expires_at).where(WebSession.key == key))).scalar()
    left = _seconds_left(expires_at) or 0
    if left == 0:
        return Response({"seconds_left": 0})
    cookie = Cookie(key=COOKIE, value=key, max_age=left, httponly=True, samesite="lax",
                    secure=request.app.state.settings.secure_cookies)
    return Response({"seconds_left": left}, cookies=[cookie])


@post("/api/session/renew", status_code=200)
async def stay_signed_in(request: Request) -> dict:
    """"Stay signed in": the session is used now, its full idle time ahead again."""
    loaded: Loaded | None = request.scope.get("state", {}).get(_LOADED)
    seconds = request.app.state.settings.idle_seconds
    if loaded is None:
        return {"seconds_left": 0}
    async with request.app.state.sessionmaker() as db:
        await db.execute(update(WebSession).where(WebSession.key == loaded.key).values(expires_at=_expiry(seconds)))
        await db.commit()
    return {"seconds_left": seconds}


ROUTES = [session_expiry, stay_signed_in]
