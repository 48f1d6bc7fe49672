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
