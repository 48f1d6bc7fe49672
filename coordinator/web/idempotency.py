"""``Idempotency-Key`` on POST requests under /api/: a client that lost an answer (timeout,
dropped connection, server restart) sends the request again with the same key and gets the
first answer back, and nothing is written twice.

The first answer is stored in the database, in the same transaction as the change it answers:
the handler's commits only flush, and the middleware commits once, with the answer beside the
change, before sending it. A crash therefore loses both or neither. Only a successful answer
to a request that changed something is kept; a refused request wrote nothing, so sending it
again is harmless and may succeed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable

from litestar import Request
from litestar.exceptions import ClientException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator.models import IdempotencyKey, utcnow

HEADER = "idempotency-key"
KEPT_FOR = dt.timedelta(hours=24)
VALID_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, as long as the column allows
_HELD = "coordinator.idempotency"  # the scope entry handing the request's session to ``db``


class _Held:
    """The session of a keyed request. The handler's ``commit`` only flushes (and notes that
    there is a change), so the middleware can add the answer and commit both at once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.changed = False
        session.commit = self._flush  # type: ignore[method-assign]

    async def _flush(self) -> None:
        self.changed = True
        await self.session.flush()

    async def commit(self) -> None:
        await AsyncSession.commit(self.session)


class _Answer:
    """The handler's answer, held back until it is stored."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def send(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return self.messages[0]["status"]

    def succeeded(self) -> bool:
        return bool(self.messages) and 200 <= self.status < 300

    def media_type(self) -> str:
        headers = dict(self.messages[0].get("headers") or [])
        return headers.get(b"content-type", b"application/octet-stream").decode("latin-1")

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    async def forward(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


def _key_of(scope: Scope) -> str | None:
    """The key of a POST under /api/ made by a known user, checked; None when there is none."""
    if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/api/"):
        return None
    values = [v for k, v in scope["headers"] if k == HEADER.encode()]
    if not values or scope.get("user") is None:
        return None
    key = values[0].decode("latin-1")
    if len(values) > 1 or not VALID_KEY.fullmatch(key):
        raise ClientException("the Idempotency-Key header must be one value of 1 to 200 visible ASCII characters")
    return key


async def _first_answer(sessionmaker: async_sessionmaker[AsyncSession], user_id: int, key: str,
                        request: str) -> IdempotencyKey | None:
    async with sessionmaker() as session:
        first = (await session.execute(select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key,
            IdempotencyKey.created_at >= utcnow() - KEPT_FOR))).scalar()
    if first is not None and first.request != request:
        raise ClientException(f"this Idempotency-Key was used for {first.request}: use a new key for each request",
                              status_code=422)
    return first


async def _replay(first: IdempotencyKey, send: Send) -> None:
    await send({"type": "http.response.start", "status": first.status_code,
                "headers": [(b"content-type", first.media_type.encode("latin-1")),
                            (b"content-length", str(len(first.body)).encode())]})
    await send({"type": "http.response.body", "body": first.body})


class IdempotencyMiddleware:
    """Answers a retried keyed request with the stored first answer; otherwise runs it and
    stores its answer with its change. Placed after authentication: keys are per user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key_of(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        user_id, request = scope["user"].id, f"{scope['method']} {scope['path']}"
        sessionmaker = scope["app"].state.sessionmaker
        if (first := await _first_answer(sessionmaker, user_id, key, request)) is not None:
            await _replay(first, send)
            return
        answer = _Answer()
        async with sessionmaker() as session:
            held = scope[_HELD] = _Held(session)  # type: ignore[literal-required]
            await self.app(scope, receive, answer.send)
            raced = held.changed and answer.succeeded() and not await _store(held, user_id, key, request, answer)
        if raced:  # the same key sent twice at once: the twin committed first, its answer counts
            first = await _first_answer(sessionmaker, user_id, key, request)
            if first is None:
                raise ClientException("this Idempotency-Key is in use by another request", status_code=409)
            await _replay(first, send)
            return
        await answer.forward(send)


async def _store(held: _Held, user_id: int, key: str, request: str, answer: _Answer) -> bool:
    """Commit the change with its answer (and sweep expired keys); False if the key was taken
    meanwhile, in which case nothing is committed."""
    session = held.session
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - KEPT_FOR))
    session.add(IdempotencyKey(user_id=user_id, key=key, request=request, status_code=answer.status,
                               media_type=answer.media_type(), body=answer.body()))
    try:
        await held.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


def request_session(provide: Callable[[], AsyncIterator[AsyncSession]]) -> Callable[..., AsyncIterator[AsyncSession]]:
    """The ``db`` dependency: the keyed request's held session, else one from ``provide``."""

    async def provide_db(request: Request) -> AsyncIterator[AsyncSession]:
        held: _Held | None = request.scope.get(_HELD)
        if held is not None:
            yield held.session  # committed and closed by the middleware
            return
        async for session in provide():
            yield session

    return provide_db
