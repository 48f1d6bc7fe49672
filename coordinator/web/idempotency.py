"""``Idempotency-Key`` on POST requests under /api/, as the IETF Idempotency-Key draft specifies:
a client that lost an answer (timeout, dropped connection, server restart) sends the request
again with the same key and gets the first answer back, and nothing is written twice.

A key is bound to the request it was first used for: its method, its path and a fingerprint of
its body (and query). The same key on another request is refused with 422.

The key is claimed before the handler runs: a row inserted under the unique (user, key), with no
answer yet, committed on its own. A twin sent at the same time (the same key, through this or
another server process) finds the claim and waits, polling the row, until the answer is stored,
then replays it, whatever that answer is; it never runs the handler itself. A claim whose process
died before answering is taken over once it is older than ``IN_FLIGHT_FOR``.

The answer is stored in the same transaction as the change it answers: the handler's commits only
flush, and the middleware commits once, with the answer beside the change, before sending it. A
crash therefore loses both or neither. A refused request (or one that changed nothing) wrote
nothing: its answer is given to the twins that waited for it, then released, so sending the
request again (corrected or not) runs it afresh.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator, Callable

from litestar import Request
from litestar.exceptions import ClientException, HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator.models import IdempotencyKey, utcnow
from coordinator.web.edge import MAX_BODY_BYTES

HEADER = "idempotency-key"
KEPT_FOR = dt.timedelta(hours=24)
# A claim unanswered for this long belongs to a process that died: its twins stop waiting and
# the next of them runs the request. Far above any handler's run time, short enough for a retry.
IN_FLIGHT_FOR = dt.timedelta(seconds=60)
POLL_SECONDS = 0.02
VALID_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, as long as the column allows
_HELD = "coordinator.idempotency"  # the scope entry handing the request's session to ``db``

DESCRIPTION = ("Optional. Send the same key again (same method, path and body) to get the first answer back "
               "without repeating the change; a twin sent while the first is running waits for its answer. "
               "The same key on another request is answered 422. Keys are per person and kept for 24 hours.")


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

    def values(self) -> dict:
        return {"status_code": self.status, "media_type": self.media_type(), "body": self.body()}


def fingerprint(query: bytes, body: bytes) -> str:
    """What binds a key to its request beside method and path: a digest of the query and body."""
    return hashlib.sha256(query + b"?" + body).hexdigest()


class _Keyed:
    """One keyed request: who sent it, the key, what it asks for, and its buffered body."""

    def __init__(self, scope: Scope, key: str, body: bytes, receive: Receive) -> None:
        self.user_id: int = scope["user"].id
        self.key = key
        self.request = f"{scope['method']} {scope['path']}"
        self.fingerprint = fingerprint(scope.get("query_string", b""), body)
        self.body = body
        self._receive = receive
        self._sent = False

    def check(self, first: IdempotencyKey) -> None:
        """Refuse a key that was used for another request: the draft's 422."""
        if first.request != self.request:
            raise ClientException(f"this Idempotency-Key was used for {first.request}: use a new key for each "
                                  "request", status_code=422)
        if first.fingerprint is not None and first.fingerprint != self.fingerprint:  # None: kept before fingerprints
            raise ClientException(f"this Idempotency-Key was used for {first.request} with a different body: send "
                                  "the same request again, or use a new key for a new request", status_code=422)

    async def receive(self) -> Message:
        """The buffered body, handed to the handler as if it came from the client; then the
        client's own messages (a disconnect)."""
        if self._sent:
            return await self._receive()
        self._sent = True
        return {"type": "http.request", "body": self.body, "more_body": False}


def applies_to(method: str, path: str) -> bool:
    """Whether a request may carry a key: the API's creates (the OpenAPI document says so too)."""
    return method == "POST" and path.startswith("/api/")


def _key_of(scope: Scope) -> str | None:
    """The key of a POST under /api/ made by a known user, checked; None when there is none."""
    if scope["type"] != "http" or not applies_to(scope["method"], scope["path"]):
        return None
    values = [v for k, v in scope["headers"] if k == HEADER.encode()]
    if not values or scope.get("user") is None:
        return None
    key = values[0].decode("latin-1")
    if len(values) > 1 or not VALID_KEY.fullmatch(key):
        raise ClientException("the Idempotency-Key header must be one value of 1 to 200 visible ASCII characters")
    return key


async def _read_body(receive: Receive) -> bytes:
    """The whole body, read here to fingerprint it: held to the size the server takes at all."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to answer
            raise ClientException("the request ended before its body was sent")
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY_BYTES:
            raise HTTPException(status_code=413, detail=f"the body is larger than {MAX_BODY_BYTES} bytes")
        if not message.get("more_body"):
            return b"".join(chunks)


async def _pause() -> None:
    """Between two looks at a twin's claim (a function of its own, so tests can watch the wait)."""
    await asyncio.sleep(POLL_SECONDS)


def _stale(row: IdempotencyKey, now: dt.datetime) -> bool:
    """A row a new request may take over: expired, a released refusal, or a claim left
    unanswered by a process that died."""
    if row.status_code is None:
        return row.created_at < now - IN_FLIGHT_FOR
    return row.released or row.created_at < now - KEPT_FOR


async def _claim_or_answer(sessionmaker: async_sessionmaker[AsyncSession], keyed: _Keyed) -> IdempotencyKey | int:
    """Claim the key for this request (the claim's row id), or the answer to replay: the stored
    first answer, or that of a twin in flight, waited for."""
    while True:
        async with sessionmaker() as session:
            now = utcnow()
            first = (await session.execute(select(IdempotencyKey).where(
                IdempotencyKey.user_id == keyed.user_id, IdempotencyKey.key == keyed.key))).scalar()
            if first is None:
                claim = IdempotencyKey(user_id=keyed.user_id, key=keyed.key, request=keyed.request,
                                       fingerprint=keyed.fingerprint, created_at=now)
                session.add(claim)
                try:
                    await session.commit()
                except IntegrityError:  # a twin claimed it between the look and the insert
                    await session.rollback()
                    continue
                return claim.id
            if _stale(first, now):  # remove exactly the row seen: a twin may have taken it over already
                await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == first.id))
                await session.commit()
                continue
            keyed.check(first)
            if first.status_code is not None:
                return first
        if (answered := await _twin_answer(sessionmaker, first.id)) is not None:
            return answered


async def _twin_answer(sessionmaker: async_sessionmaker[AsyncSession], claim_id: int) -> IdempotencyKey | None:
    """The answer of the twin holding a claim, whatever it is (a refusal too), once stored; None
    if the claim was dropped or its process died, so the key is free again."""
    while True:
        await _pause()
        async with sessionmaker() as session:
            row = await session.get(IdempotencyKey, claim_id)
        if row is None or (row.status_code is None and _stale(row, utcnow())):
            return None
        if row.status_code is not None:
            return row


async def _replay(first: IdempotencyKey, send: Send) -> None:
    await send({"type": "http.response.start", "status": first.status_code,
                "headers": [(b"content-type", first.media_type.encode("latin-1")),
                            (b"content-length", str(len(first.body)).encode())]})
    await send({"type": "http.response.body", "body": first.body})


class IdempotencyMiddleware:
    """Answers a retried keyed request with the stored first answer, and a twin in flight with
    its twin's answer; otherwise runs it and stores its answer with its change. Placed after
    authentication: keys are per user."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key_of(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        keyed = _Keyed(scope, key, await _read_body(receive), receive)
        sessionmaker = scope["app"].state.sessionmaker
        found = await _claim_or_answer(sessionmaker, keyed)
        if isinstance(found, IdempotencyKey):
            await _replay(found, send)
            return
        claim_id = found
        answer = _Answer()
        try:
            async with sessionmaker() as session:
                held = scope[_HELD] = _Held(session)  # type: ignore[literal-required]
                await self.app(scope, keyed.receive, answer.send)
                if held.changed and answer.succeeded():
                    stored = await _store(held, claim_id, answer)
                else:  # nothing written: the answer goes to waiting twins only
                    await session.rollback()
                    stored = await _release(sessionmaker, claim_id, answer)
        except BaseException:
            await _abandon(sessionmaker, claim_id)
            raise
        if not stored:  # the claim was taken over meanwhile (thought dead): the taker's answer counts
            found = await _claim_or_answer(sessionmaker, keyed)
            if not isinstance(found, IdempotencyKey):
                await _abandon(sessionmaker, found)
                raise ClientException("this Idempotency-Key is in use by another request: send it again",
                                      status_code=409)
            await _replay(found, send)
            return
        for message in answer.messages:
            await send(message)


def _answering(claim_id: int, answer: _Answer, *, released: bool):
    return (update(IdempotencyKey)
            .where(IdempotencyKey.id == claim_id, IdempotencyKey.status_code.is_(None))
            .values(**answer.values(), released=released))


async def _store(held: _Held, claim_id: int, answer: _Answer) -> bool:
    """Commit the change with its answer on the claim (and sweep expired keys); False if the
    claim is no longer this request's, in which case nothing is committed."""
    session = held.session
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - KEPT_FOR))
    if (await session.execute(_answering(claim_id, answer, released=False))).rowcount != 1:
        await session.rollback()
        return False
    await held.commit()
    return True


async def _release(sessionmaker: async_sessionmaker[AsyncSession], claim_id: int, answer: _Answer) -> bool:
    """Give a refusal to the twins waiting for it; the next request with the key runs afresh."""
    async with sessionmaker() as session:
        released = (await session.execute(_answering(claim_id, answer, released=True))).rowcount == 1
        await session.commit()
    return released


async def _abandon(sessionmaker: async_sessionmaker[AsyncSession], claim_id: int) -> None:
    """Drop an unanswered claim (the request failed without an answer): twins then run it."""
    async with sessionmaker() as session:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == claim_id,
                                                           IdempotencyKey.status_code.is_(None)))
        await session.commit()


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
