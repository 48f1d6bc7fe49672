"""Real clients of a running server: a logged-in person (HTTP) and their live page (a real
``websockets`` connection that keeps the latest version of every fragment, as a browser would
after swapping them in)."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.live.server import ServerProcess
from tests.logins import factors_of

FRAGMENT = re.compile(r'<(?:section|div) id="([^"]+)"')
WAIT = 20.0  # seconds: only a safety net so a broken feature fails instead of hanging


def fragments(message: str) -> dict[str, str]:
    """The top-level fragments of one websocket message, by DOM id."""
    starts = [(m.start(), m.group(1)) for m in FRAGMENT.finditer(message) if _top_level(message, m.start())]
    ends = [start for start, _ in starts[1:]] + [len(message)]
    return {dom_id: message[start:end] for (start, dom_id), end in zip(starts, ends)}


def _top_level(message: str, position: int) -> bool:
    before = message[:position]
    opened = len(re.findall(r"<(?:section|div)\b", before))
    closed = len(re.findall(r"</(?:section|div)>", before))
    return opened == closed


class LivePage:
    """One open conference page."""

    def __init__(self, socket: ClientConnection, conference_id: int) -> None:
        self.socket = socket
        self.conference_id = conference_id
        self.shown: dict[str, str] = {}
        self.messages = 0

    def part(self, aspect: str) -> str:
        """The fragment of one aspect (status, agenda, presence, case, roles, actions, new_action, notes)."""
        return self.shown.get(f"conference-{aspect}-{self.conference_id}", "")

    async def receive(self) -> dict[str, str]:
        message = await asyncio.wait_for(self.socket.recv(), WAIT)
        received = fragments(message)
        self.shown.update(received)
        self.messages += 1
        return received

    def presence(self, name: str) -> str | None:
        """How the page shows one person: present, away or apology (None if not listed)."""
        found = re.search(rf">\s*{re.escape(name)} <small>[^<]*</small>\s*<span class=\"badge presence-(\w+)\"",
                          self.part("presence"))
        return found.group(1) if found else None

    async def wait_for(self, shown: Callable[[LivePage], bool]) -> None:
        """Receive until ``shown(page)`` holds."""
        async with asyncio.timeout(WAIT):
            while not shown(self):
                await self.receive()

    async def wait_until(self, aspect: str, *texts: str) -> str:
        """Receive until the aspect's fragment shows every one of ``texts``."""
        await self.wait_for(lambda page: all(t in page.part(aspect) for t in texts))
        return self.part(aspect)

    async def close(self) -> None:
        await self.socket.close()


class Person:
    """Someone using the server over HTTP: logs in, calls the API, opens live pages."""

    def __init__(self, server: ServerProcess, username: str, tls: ssl.SSLContext | None = None) -> None:
        self.server = server
        self.username = username
        self.tls = tls  # trusts the certificate of a server reached over https
        self.http = httpx.AsyncClient(base_url=server.base_url, follow_redirects=True, verify=tls or True)

    async def login(self, password: str) -> Person:
        await self.http.get("/login")
        response = await self.http.post("/login", data={"username": self.username, "password": password},
                                        headers=self._csrf())
        response = await factors_of(self.server).finish(self.http, response, self.username, self._csrf)
        assert response.status_code == 200, response.text
        return self

    def _csrf(self) -> dict[str, str]:
        token = self.http.cookies.get("csrftoken")
        return {"x-csrftoken": token} if token else {}

    async def api(self, method: str, path: str, json: dict | None = None) -> httpx.Response:
        return await self.http.request(method, path, json=json, headers=self._csrf())

    def _cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())

    async def connect(self, conference_id: int, *, origin: str | None = None, cookies: bool = True) -> ClientConnection:
        return await self.connect_to(f"/conferences/{conference_id}/live", origin=origin, cookies=cookies)

    async def connect_to(self, path: str, *, origin: str | None = None, cookies: bool = True) -> ClientConnection:
        headers = {"Cookie": self._cookie_header()} if cookies else {}
        return await connect(self.server.ws_url(path), origin=origin or self.server.base_url,
                             additional_headers=headers, open_timeout=WAIT, **({"ssl": self.tls} if self.tls else {}))

    async def open_page(self, conference_id: int) -> LivePage:
        """Open the live page and wait for its first message: the whole page."""
        page = LivePage(await self.connect(conference_id), conference_id)
        await page.receive()
        return page

    async def refusal(self, conference_id: int, **kwargs) -> tuple[int, str]:
        """Open the live page expecting to be refused: the close code and reason."""
        socket = await self.connect(conference_id, **kwargs)
        try:
            await asyncio.wait_for(socket.recv(), WAIT)
        except ConnectionClosed as closed:
            return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError("the server sent the page instead of refusing")

    async def close(self) -> None:
        await self.http.aclose()
