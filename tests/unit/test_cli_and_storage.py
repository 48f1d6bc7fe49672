"""The administrator's command line, migrations, and the refusal to serve an old schema."""

import os
import subprocess
import sys
import threading

import pytest
from alembic import command
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from coordinator import db
from coordinator.app import create_app


def run_cli(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COORDINATOR_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "coordinator.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120)


async def test_users_create_prints_a_one_time_password_that_logs_in(database_url, client_for):
    result = run_cli(database_url, "users", "create", "--username", "ana", "--agency", "police", "--role", "member")
    assert result.returncode == 0, result.stderr
    password = result.stdout.split("one-time password: ")[1].strip()
    client = await client_for()
    assert (await client.login("ana", password)).status_code == 200
    assert (await client.get("/api/me")).json()["agency"] == "police"


async def test_users_create_reads_a_password_from_stdin_and_tokens_create_prints_a_token(database_url, client_for):
    created = run_cli(database_url, "users", "create", "--username", "cy", "--agency", "health", "--role", "coordinator",
                      "--password-stdin", stdin="a long enough password\n")
    assert created.returncode == 0 and "one-time password" not in created.stdout
    token = run_cli(database_url, "tokens", "create", "--username", "cy").stdout.strip()
    client = await client_for()
    me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "coordinator"


def test_users_create_refuses_an_unknown_agency_with_a_message(database_url):
    result = run_cli(database_url, "users", "create", "--username", "x", "--agency", "navy", "--role", "member")
    assert result.returncode == 2 and "installed agencies" in result.stderr


def test_agencies_lists_the_installed_plugins_and_their_hooks(database_url):
    result = run_cli(database_url, "agencies")
    assert result.returncode == 0
    assert "police: Police" in result.stdout and "social_work: Social work" in result.stdout
    assert "agency_task_list" in result.stdout and "agency_restrict_disclosure" in result.stdout


def test_migrations_match_the_models(migrated_template):
    """A model change without its migration fails here."""
    url = os.environ.get("COORDINATOR_TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{migrated_template}"
    command.check(db.alembic_config(url))


async def test_the_server_refuses_an_unmigrated_database_with_how_to_migrate(tmp_path, settings, registry):
    from dataclasses import replace

    empty = replace(settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    app = create_app(empty, registry)
    with pytest.raises(db.NotMigrated, match="coordinator migrate"):
        await app.on_startup[0](app)
    await app.state.engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    await engine.dispose()


async def test_sqlite_statements_run_on_the_event_loops_thread(tmp_path):
    """A thread of its own per connection (aiosqlite) makes every statement a hop there and back,
    which costs more than the statement; the server's one SQLite connection runs inline. A change
    that fails there still rolls back and raises the database's own error."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")

    @event.listens_for(engine.sync_engine, "connect")
    def _thread_function(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.create_function("thread_id", 0, threading.get_ident)

    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT thread_id()"))).scalar() == threading.get_ident()
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
        await conn.commit()
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO t (name) VALUES ('kept'), (NULL)"))
        await conn.rollback()
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    await engine.dispose()
