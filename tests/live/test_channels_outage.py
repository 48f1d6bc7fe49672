"""The channels backend (Redis, or PostgreSQL LISTEN/NOTIFY) goes away during a meeting and comes
back: the server reports it, keeps answering, and once the backend returns the open page gets
what it missed. A SIGTERM during the outage still stops the server.

Between the server and the backend sits a TCP proxy the test controls: cutting it closes every
connection and refuses new ones, as a backend that died or a network that broke would."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.live.test_two_servers import PG_CHANNELS_URL, REDIS_URL, answering, unavailable

BACKENDS = {"redis": REDIS_URL, "postgresql": PG_CHANNELS_URL}
WAIT = 30.0  # seconds: a safety net so a server that does not heal fails instead of hanging


class Proxy:
    """Forwards 127.0.0.1:<port> to the backend, until cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> Proxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def cut(self) -> None:
        self.server.close()  # new connections are refused
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()

    async def restore(self) -> None:
        await self.start()  # on the same port

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            backend_reader, backend_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self.writers |= {client_writer, backend_writer}
        await asyncio.gather(self._pipe(client_reader, backend_writer), self._pipe(backend_reader, client_writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            writer.transport.abort()


async def proxied(backend: str) -> tuple[Proxy, str]:
    """A started proxy to the backend, and the channels URL that goes through it."""
    url = BACKENDS[backend]
    if not answering(url):
        unavailable(f"{backend} does not answer at {url}")
    parts = urlsplit(url)
    proxy = await Proxy(parts.hostname, parts.port).start()
    user = f"{parts.username}@" if parts.username else ""
    return proxy, urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


async def start_through(servers, channels_url: str):  # noqa: ANN001, ANN201
    # In a thread: the proxy runs on this event loop, and the server reaches its backend through it.
    return await asyncio.to_thread(servers, channels_url=channels_url, channels_prefix=f"test{uuid.uuid4().hex[:10]}",
                                   env={"COORDINATOR_CHANNELS_RETRY_SECONDS": "1"})


async def wait_until_answers(http: httpx.AsyncClient, path: str, status: int, body: dict | None = None) -> None:
    async with asyncio.timeout(WAIT):
        while True:
            response = await http.get(path)
            if response.status_code == status and (body is None or response.json() == body):
                return
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
async def test_an_outage_is_reported_and_healed(backend, servers, people_on, scenario):
    proxy, channels_url = await proxied(backend)
    server = await start_through(servers, channels_url)
    (chair,) = await people_on(server, "chair")
    page = await chair.open_page(scenario.conference_id)
    notes = f"/api/conferences/{scenario.conference_id}/notes"

    await proxy.cut()
    await wait_until_answers(chair.http, "/health", 200, {"status": "degraded", "channels": "down"})
    assert (await chair.http.get("/ready")).status_code == 503
    during = await chair.api("POST", notes, {"case_id": scenario.case_a, "kind": "note", "text": "Noted while cut off"})
    assert during.status_code == 200, during.text  # the change is saved; only its announcement is lost
    await asyncio.sleep(3)  # the outage lasts
    assert (await chair.http.get("/health")).json() == {"status": "degraded", "channels": "down"}

    await proxy.restore()
    await page.wait_until("notes", "Noted while cut off")  # the whole state, resent on recovery
    await wait_until_answers(chair.http, "/health", 200, {"status": "ok"})
    await wait_until_answers(chair.http, "/ready", 200)
    after = await chair.api("POST", notes, {"case_id": scenario.case_a, "kind": "note", "text": "Noted once healed"})
    assert after.status_code == 200, after.text
    await page.wait_until("notes", "Noted once healed")
    await page.close()
    await proxy.cut()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
async def test_sigterm_during_an_outage_stops_the_server(backend, servers, people_on, scenario):
    proxy, channels_url = await proxied(backend)
    server = await start_through(servers, channels_url)
    (chair,) = await people_on(server, "chair")
    page = await chair.open_page(scenario.conference_id)
    await proxy.cut()
    await wait_until_answers(chair.http, "/health", 200, {"status": "degraded", "channels": "down"})
    await chair.api("POST", f"/api/conferences/{scenario.conference_id}/notes",
                    {"case_id": scenario.case_a, "kind": "note", "text": "Published into the void"})

    os.kill(server.pid, signal.SIGTERM)
    for _ in range(100):  # the bound: 10 seconds
        if server.process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    assert server.process.poll() is not None, f"still running 10 s after SIGTERM:\n{server.log()}"
    await page.close()
