"""Start the real server in a subprocess, as an operator would, for tests and benchmarks.

    server = start_server(database_url=url, channels_url="redis://127.0.0.1:6379/0")
    try:
        ... server.base_url, server.ws_url("/conferences/1/live") ...
    finally:
        server.stop()

The server listens on a free port (``--port 0``); the port is read from uvicorn's log line,
then ``/health`` is polled until it answers. The database must already be migrated.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"Uvicorn running on (http://[\w.\-]+:\d+)")
DEFAULT_SECRET = "live-test-secret-key-0123456789"


class ServerDidNotStart(RuntimeError):
    pass


@dataclass
class ServerProcess:
    """A running server: its base URL, its PID, and its log (stdout and stderr together)."""

    process: subprocess.Popen
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def ws_url(self, path: str) -> str:
        return "ws" + self.base_url.removeprefix("http") + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the server to shut down (SIGTERM, so open websockets are closed properly);
        kill it if it has not stopped within ``timeout`` seconds."""
        if self.process.poll() is not None:
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.process.wait()


def server_env(*, database_url: str, channels_url: str = "memory", secret_key: str = DEFAULT_SECRET,
               channels_prefix: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a server process runs with: this process's, plus the settings."""
    env = dict(os.environ)
    env.update({"COORDINATOR_DATABASE_URL": database_url, "COORDINATOR_CHANNELS_URL": channels_url,
                "COORDINATOR_SECRET_KEY": secret_key, "PYTHONUNBUFFERED": "1"})
    if channels_prefix:
        env["COORDINATOR_CHANNELS_PREFIX"] = channels_prefix
    env.update(extra or {})
    return env


def start_server(*, database_url: str, channels_url: str = "memory", secret_key: str = DEFAULT_SECRET,
                 channels_prefix: str | None = None, env: dict[str, str] | None = None,
                 timeout: float = 60.0, workers: int = 1) -> ServerProcess:
    """Start ``coordinator serve --port 0 --workers N`` and return once ``/health`` answers.

    ``env`` adds to (or overrides) the environment. Processes that should share conferences
    need the same database, the same ``channels_url`` (Redis or PostgreSQL), the same
    ``channels_prefix`` and the same ``secret_key``.
    """
    log_file = tempfile.NamedTemporaryFile(prefix="coordinator-server-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "coordinator.cli", "serve", "--host", "127.0.0.1", "--port", "0",
         "--workers", str(workers)],
        cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=server_env(database_url=database_url, channels_url=channels_url, secret_key=secret_key,
                       channels_prefix=channels_prefix, extra=env))
    log_file.close()
    server = ServerProcess(process, "", Path(log_file.name))
    deadline = time.monotonic() + timeout
    try:
        server.base_url = _wait_for_port(server, deadline)
        _wait_for_health(server, deadline)
    except ServerDidNotStart:
        server.stop()
        raise
    return server


def _wait_for_port(server: ServerProcess, deadline: float) -> str:
    while time.monotonic() < deadline:
        match = LISTENING.search(server.log())
        if match:
            return match.group(1)
        if server.process.poll() is not None:
            raise ServerDidNotStart(f"the server exited with {server.process.returncode}:\n{server.log()}")
        time.sleep(0.05)
    raise ServerDidNotStart(f"the server did not report its port in time:\n{server.log()}")


def _wait_for_health(server: ServerProcess, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.base_url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise ServerDidNotStart(f"/health did not answer in time:\n{server.log()}")


@contextmanager
def running_server(**kwargs) -> Iterator[ServerProcess]:
    """``start_server`` as a context manager: the server is stopped on the way out."""
    server = start_server(**kwargs)
    try:
        yield server
    finally:
        server.stop()
