"""SQLite is one server process: a second `coordinator serve` on the same file is refused with a
message, while the other commands still work beside the running server."""

import subprocess
import sys

from coordinator import db
from tests.live.server import ROOT, server_env, start_server


def test_a_second_server_on_one_sqlite_file_is_refused(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    db.migrate(url)
    first = start_server(database_url=url)
    try:
        env = server_env(database_url=url)
        second = subprocess.run([sys.executable, "-m", "coordinator.cli", "serve", "--port", "0"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "SQLite serves one process only" in second.stderr + second.stdout
        assert "PostgreSQL" in second.stderr + second.stdout
        verify = subprocess.run([sys.executable, "-m", "coordinator.cli", "audit", "verify"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        first.stop()
    again = start_server(database_url=url)  # the lock goes with the process that held it
    again.stop()


def test_several_workers_are_refused_on_sqlite_and_without_shared_channels(tmp_path):
    """--workers N above 1 needs PostgreSQL (the same message as a second process on one file) and a
    channels backend the workers share; nothing is started when refused."""
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    postgres = "postgresql+asyncpg://nobody@127.0.0.1:1/unused"  # refused before any connection
    for url, channels, expected in ((sqlite, "memory", "SQLite serves one process only. To run several server "
                                     "processes, use PostgreSQL"),
                                    (sqlite, "redis://127.0.0.1:6379/0", "SQLite serves one process only"),
                                    (postgres, "memory", "needs a channels backend the workers share")):
        refused = subprocess.run([sys.executable, "-m", "coordinator.cli", "serve", "--port", "0", "--workers", "2"],
                                 cwd=ROOT, env=server_env(database_url=url, channels_url=channels),
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and expected in refused.stderr, refused.stderr
        assert "Uvicorn running" not in refused.stderr + refused.stdout
