"""Backups that restore: `coordinator backup FILE` taken while changes go on, restored into a new
database by `coordinator restore FILE` with every acknowledged change in it, each checked by the
audit chain and a checksum; and the anchor that makes `audit verify --anchor` see a cut tail."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url

from coordinator import backups, cli, db
from coordinator.models import AuditEntry, InformationItem
from tests.conftest import PG_URL
from tests.databases import empty_schema
from tests.sharing_steps import record_item


def run(args: list[str], database_url: str, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.setenv("COORDINATOR_DATABASE_URL", database_url)
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
async def fresh_url(tmp_path):
    """A new, empty database to restore into (on PostgreSQL, a second database of the server)."""
    if not PG_URL:
        return f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
    url = make_url(PG_URL)
    name = f"{url.database}_restored"
    engine = db.create_engine(PG_URL)
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if not (await connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})).first():
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    restored = url.set(database=name).render_as_string(hide_password=False)
    await empty_schema(restored)
    return restored


async def items_in(database_url: str) -> dict[int, str]:
    engine = db.create_engine(database_url)
    try:
        async with db.create_sessionmaker(engine)() as session:
            return dict((await session.execute(select(InformationItem.id, InformationItem.text))).all())
    finally:
        await engine.dispose()


async def test_a_backup_taken_while_changes_go_on_restores_every_acknowledged_change(
        client_for, people, case, database_url, fresh_url, tmp_path, capsys, monkeypatch):
    police = await client_for("pc")
    acknowledged = {}
    for n in range(5):
        item = await record_item(police, case["id"], "police.call_outs", f"Call-out number {n}")
        acknowledged[item["id"]] = item["text"]
    stop = asyncio.Event()

    async def keep_writing() -> None:  # the service goes on while the backup is taken
        n = 0
        while not stop.is_set():
            await record_item(police, case["id"], "police.call_outs", f"During the backup {n}")
            n += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(keep_writing())
    backup = tmp_path / "coordinator.backup"
    try:
        code, out = await asyncio.to_thread(run, ["backup", str(backup)], database_url, capsys, monkeypatch)
    finally:
        stop.set()
        await writer
    assert code == 0, out
    assert "audit log intact" in out and backup.with_name("coordinator.backup.sha256").exists()
    assert backup.with_name("coordinator.backup.anchor").exists()

    code, out = await asyncio.to_thread(run, ["restore", str(backup)], fresh_url, capsys, monkeypatch)
    assert code == 0, out
    assert "matches its checksum" in out and "audit log intact" in out and "reaches the backup's anchored entry" in out
    restored = await items_in(fresh_url)
    assert acknowledged.items() <= restored.items()  # every change acknowledged before the backup
    code, out = await asyncio.to_thread(run, ["audit", "verify", "--anchor", str(backup) + ".anchor"], fresh_url,
                                        capsys, monkeypatch)
    assert code == 0, out

    again = await asyncio.to_thread(run, ["restore", str(backup)], fresh_url, capsys, monkeypatch)
    assert again[0] == 2 and "not empty" in again[1]  # never over a database in use


async def test_a_backup_changed_or_cut_short_is_refused_before_anything_is_loaded(
        people, case, database_url, fresh_url, tmp_path, capsys, monkeypatch):
    backup = tmp_path / "coordinator.backup"
    assert (await asyncio.to_thread(run, ["backup", str(backup)], database_url, capsys, monkeypatch))[0] == 0
    backup.write_bytes(backup.read_bytes()[:-100])
    code, out = await asyncio.to_thread(run, ["restore", str(backup)], fresh_url, capsys, monkeypatch)
    assert code == 2 and "does not match its checksum" in out
    assert not await backups.has_tables(fresh_url)  # nothing was loaded
    code, out = await asyncio.to_thread(run, ["backup", str(backup)], database_url, capsys, monkeypatch)
    assert code == 2 and "exists already" in out


async def test_audit_verify_with_the_anchor_sees_entries_cut_from_the_tail_or_rewritten(
        client_for, people, case, database_url, sessionmaker, tmp_path, capsys, monkeypatch):
    police = await client_for("pc")
    for n in range(3):
        await record_item(police, case["id"], "police.call_outs", f"Call-out number {n}")
    anchor = tmp_path / "head.anchor"
    code, out = await asyncio.to_thread(run, ["audit", "anchor", str(anchor)], database_url, capsys, monkeypatch)
    assert code == 0, out
    async with sessionmaker() as session:
        last = (await session.execute(select(func.max(AuditEntry.id)))).scalar()
        await session.execute(delete(AuditEntry).where(AuditEntry.id > last - 2))  # the tail, cut
        await session.commit()

    code, out = await asyncio.to_thread(run, ["audit", "verify"], database_url, capsys, monkeypatch)
    assert code == 0  # what is left still holds together: only the anchor tells
    code, out = await asyncio.to_thread(run, ["audit", "verify", "--anchor", str(anchor)], database_url, capsys,
                                        monkeypatch)
    assert code == 1
    assert f"the chain ends at entry {last - 2}" in out and f"names entry {last}: entries were cut from its tail" in out

    for n in range(3):  # new entries appended over the cut reach the anchored number, with other hashes
        await record_item(police, case["id"], "police.call_outs", f"Written over {n}")
    code, out = await asyncio.to_thread(run, ["audit", "verify", "--anchor", str(anchor)], database_url, capsys,
                                        monkeypatch)
    assert code == 1 and f"entry {last} is not the one anchored" in out
