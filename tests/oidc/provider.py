"""The OpenID Connect provider of the single sign-on tests (provider.mjs, run with Node), and a
browser's way through its development login and consent pages."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import httpx

SCRIPT = Path(__file__).with_name("provider.mjs")
CLIENT_ID, CLIENT_SECRET = "coordinator", "a-client-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_provider(callback: str, logout_return: str) -> Iterator[str]:
    """A provider for one client (this server, with these return addresses); yields its issuer."""
    port = _free_port()
    process = subprocess.Popen(["node", str(SCRIPT), str(port), callback, logout_return],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=SCRIPT.parents[2])  # where node_modules is
    try:
        deadline = time.monotonic() + 30
        for line in process.stdout:  # its warnings, then the line saying it listens
            if line.startswith("listening on "):
                yield line.removeprefix("listening on ").strip()
                return
            if time.monotonic() > deadline:
                break
        raise RuntimeError(f"the OpenID provider did not start (exit {process.poll()})")
    finally:
        process.terminate()
        process.wait(timeout=10)


async def through_provider(http: httpx.AsyncClient, url: str, login: str, stop_at: str) -> str:
    """Follow the provider's pages from ``url`` as a person would: its login form (any password),
    then its consent form, or its logout form; returns the first address outside the provider (starting ``stop_at``)."""
    while not url.startswith(stop_at):
        answer = await http.get(url)
        if answer.is_redirect:
            url = urljoin(url, answer.headers["location"])
            continue
        form = re.search(r'<form[^>]*\saction="([^"]+)"', answer.text)
        assert form, answer.text[:500]
        fields = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', answer.text))
        if 'name="login"' in answer.text:
            fields |= {"login": login, "password": "anything"}
        if 'name="logout"' in answer.text:  # "sign out of the provider too", not only of this site
            fields["logout"] = "yes"
        posted = await http.post(urljoin(url, form.group(1)), data=fields)
        assert posted.is_redirect, posted.text[:500]
        url = urljoin(url, posted.headers["location"])
    return url
