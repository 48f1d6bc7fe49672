"""Messages between server processes, through Redis pub/sub, PostgreSQL LISTEN/NOTIFY, or
memory (one process), that survive the backend going away: reconnection with backoff,
listening again on every topic, and a call back on recovery so pages get what they missed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from contextlib import suppress

import asyncpg
from redis.asyncio import Redis

log = logging.getLogger("coordinator.live")


# A backend operation that takes longer than this counts as the backend being down: a request
# or a shutdown never waits on an unreachable Redis or PostgreSQL for longer.
BACKEND_TIMEOUT = 3.0
FIRST_RETRY = 0.2  # seconds; doubled after each failed reconnection, up to settings.channels_retry_seconds


class MemoryLink:
    """One process: a message published is heard by this process only."""

    def __init__(self, deliver: Callable[[str, str], None]) -> None:
        self.deliver = deliver

    async def open(self, topics: Iterable[str]) -> None:
        pass

    async def run(self) -> None:
        await asyncio.Event().wait()  # never lost

    async def listen(self, topics: Iterable[str]) -> None:
        pass

    async def unlisten(self, topics: Iterable[str]) -> None:
        pass

    async def publish(self, topic: str, payload: str) -> None:
        self.deliver(topic, payload)

    async def close(self) -> None:
        pass


class RedisLink(MemoryLink):
    """Redis pub/sub: one connection listening, a pool for publishing."""

    def __init__(self, deliver: Callable[[str, str], None], url: str) -> None:
        super().__init__(deliver)
        self.url = url

    async def open(self, topics: Iterable[str]) -> None:
        self.redis = Redis.from_url(self.url, socket_connect_timeout=BACKEND_TIMEOUT)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self.pubsub.connect()
        await self.listen(topics)
        await self.redis.ping()

    async def run(self) -> None:
        # Reading also notices a lost connection (even with no topic listened), by raising.
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                self.deliver(message["channel"].decode(), message["data"].decode())

    async def listen(self, topics: Iterable[str]) -> None:
        if topics := list(topics):
            await self.pubsub.subscribe(*topics)

    async def unlisten(self, topics: Iterable[str]) -> None:
        if topics := list(topics):
            await self.pubsub.unsubscribe(*topics)

    async def publish(self, topic: str, payload: str) -> None:
        await self.redis.publish(topic, payload)

    async def close(self) -> None:
        await self.pubsub.aclose()
        await self.redis.aclose()


class PostgresLink(MemoryLink):
    """PostgreSQL LISTEN/NOTIFY: one connection listening, one publishing (an asyncpg
    connection runs one query at a time, and a connection per publish is slow)."""

    def __init__(self, deliver: Callable[[str, str], None], dsn: str) -> None:
        super().__init__(deliver)
        self.dsn = dsn
        self.connections: list[asyncpg.Connection] = []

    async def open(self, topics: Iterable[str]) -> None:
        self.lost = asyncio.Event()
        for _ in range(2):
            connection = await asyncpg.connect(self.dsn, timeout=BACKEND_TIMEOUT)
            connection.add_termination_listener(lambda _connection: self.lost.set())
            self.connections.append(connection)
        self.listener, self.publisher = self.connections
        await self.listen(topics)

    async def run(self) -> None:
        await self.lost.wait()
        raise ConnectionError("the connection to PostgreSQL was lost")

    async def listen(self, topics: Iterable[str]) -> None:
        for topic in topics:
            await self.listener.add_listener(topic, self._notified)

    async def unlisten(self, topics: Iterable[str]) -> None:
        for topic in topics:
            await self.listener.remove_listener(topic, self._notified)

    def _notified(self, _connection, _pid, topic: str, payload: str) -> None:  # noqa: ANN001
        self.deliver(topic, payload)

    async def publish(self, topic: str, payload: str) -> None:
        await self.publisher.execute("SELECT pg_notify($1, $2)", topic, payload)

    async def close(self) -> None:
        for connection in self.connections:
            connection.terminate()  # close() would wait for a server that may be gone
        self.connections = []


class Subscription:
    """The messages of some topics, in order, for one reader."""

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = frozenset(topics)
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def iter_events(self):  # noqa: ANN201
        while (payload := await self.queue.get()) is not None:
            yield payload


class Channels:
    """Messages between server processes that survive the backend going away.

    Litestar's ChannelsPlugin ends its worker tasks at the first backend error and never
    restarts them (publishing then queues for ever, and shutdown waits on that queue). Here one
    task keeps the listening connection: it reconnects with backoff, listens again on every
    topic wanted, and calls ``on_recovered`` so that pages get what they missed. While the
    backend is down, ``publish`` drops messages rather than queueing or blocking a request;
    that recovery resend covers them.
    """

    def __init__(self, url: str, *, retry_seconds: float = 5.0) -> None:
        if url == "memory":
            self.link: MemoryLink = MemoryLink(self._deliver)
        elif url.startswith(("redis://", "rediss://")):
            self.link = RedisLink(self._deliver, url)
        elif url.startswith(("postgresql://", "postgres://")):
            self.link = PostgresLink(self._deliver, url)
        else:
            raise ValueError(f"COORDINATOR_CHANNELS_URL must be 'memory', 'redis://…' or 'postgresql://…', not {url!r}")
        self.retry_seconds = retry_seconds
        self.on_recovered: Callable[[], None] = lambda: None
        self.up = False
        self.started = False
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._outgoing: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=1000)
        self._tasks: list[asyncio.Task] = []
        self._down_since: float | None = None
        self._dropped = 0
        self._linking = asyncio.Lock()  # opening, listening and unlistening take turns on the connection
        self._broken = asyncio.Event()  # set when a publish or a LISTEN fails: reconnect
        self._tried = asyncio.Event()  # the first connection was tried

    @property
    def down(self) -> bool:
        """Started, and the backend is unreachable (it has not been reached yet, or was lost)."""
        return self.started and not self.up

    async def __aenter__(self) -> Channels:
        self.started = True
        self._tasks = [asyncio.create_task(self._keep_listening()), asyncio.create_task(self._publish_queued())]
        await self._tried.wait()  # a server that reaches its backend starts ready; one that does not, degraded
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.started = self.up = False
        for task in self._tasks:  # the listener closes its connection as it ends
            task.cancel()
        # Bounded: a client library stuck on a dead connection must not hold up the shutdown.
        await asyncio.wait(self._tasks, timeout=BACKEND_TIMEOUT)
        for subscription in {s for subscribers in self._subscriptions.values() for s in subscribers}:
            subscription.queue.put_nowait(None)
        self._subscriptions.clear()

    def publish(self, payload: str, topic: str) -> None:
        """Queue a message for every process; never waits (it is called by requests)."""
        if self.up and not self._outgoing.full():
            self._outgoing.put_nowait((topic, payload))
        else:
            self._dropped += 1

    async def subscribe(self, topics: Iterable[str]) -> Subscription:
        subscription = Subscription(topics)
        new = [t for t in subscription.topics if not self._subscriptions.get(t)]
        for topic in subscription.topics:
            self._subscriptions.setdefault(topic, set()).add(subscription)
        if new:
            await self._on_link("listen on", self.link.listen, new)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        subscription.queue.put_nowait(None)
        gone = []
        for topic in subscription.topics:
            subscribers = self._subscriptions.get(topic, set())
            subscribers.discard(subscription)
            if not subscribers:
                self._subscriptions.pop(topic, None)
                gone.append(topic)
        if gone:
            await self._on_link("stop listening on", self.link.unlisten, gone)

    async def _on_link(self, what: str, change, topics: list[str]) -> None:  # noqa: ANN001
        """Change what the connection listens to. While the backend is down there is nothing
        to change: the reconnection listens on the topics wanted then."""
        async with self._linking:
            if not self.up:
                return
            try:
                await asyncio.wait_for(change(topics), BACKEND_TIMEOUT)
            except Exception as error:  # noqa: BLE001
                log.warning("channels: could not %s %s (%r); reconnecting", what, topics, error)
                self._broken.set()

    def _deliver(self, topic: str, payload: str) -> None:
        for subscription in self._subscriptions.get(topic, ()):
            subscription.queue.put_nowait(payload)

    async def _keep_listening(self) -> None:
        delay = FIRST_RETRY
        while True:
            try:
                await self._connect()
                delay = FIRST_RETRY
                await self._until_lost()
            except Exception as error:  # noqa: BLE001
                self._tried.set()
                if self._down_since is None:
                    self._down_since = asyncio.get_running_loop().time()
                    log.error("channels: the backend is unreachable (%r); live updates are paused, retrying", error)
            finally:  # on shutdown too
                self.up = False
                with suppress(Exception):
                    await asyncio.wait_for(self.link.close(), BACKEND_TIMEOUT)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_seconds)

    async def _connect(self) -> None:
        async with self._linking:
            await asyncio.wait_for(self.link.open(list(self._subscriptions)), BACKEND_TIMEOUT)
            self._broken.clear()
            self.up = True
            self._tried.set()
        if self._down_since is not None:
            log.warning("channels: the backend is back after %.1f s (%d messages dropped); every live page is sent "
                        "its whole state", asyncio.get_running_loop().time() - self._down_since, self._dropped)
            self._down_since, self._dropped = None, 0
            self.on_recovered()

    async def _until_lost(self) -> None:
        reader = asyncio.create_task(self.link.run())
        broken = asyncio.create_task(self._broken.wait())
        try:
            await asyncio.wait([reader, broken], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, broken):
                task.cancel()
            await asyncio.gather(reader, broken, return_exceptions=True)
        if not reader.cancelled():
            reader.result()  # raises what ended the connection
        raise ConnectionError("a publish or a LISTEN failed")

    async def _publish_queued(self) -> None:
        while True:
            topic, payload = await self._outgoing.get()
            if not self.up:  # queued before the outage was noticed
                self._dropped += 1
                continue
            try:
                await asyncio.wait_for(self.link.publish(topic, payload), BACKEND_TIMEOUT)
            except Exception as error:  # noqa: BLE001
                # Lost, and no listener would notice: reconnecting makes every room resend.
                log.warning("channels: publishing on %s failed (%r); reconnecting", topic, error)
                self._dropped += 1
                self._broken.set()
