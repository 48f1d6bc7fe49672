"""Backups that restore, and an anchor that keeps the audit chain's tail from being cut unseen.

A backup is one file: SQLite's online backup API copies the database while the server runs;
PostgreSQL's ``pg_dump`` in its custom format (``-Fc``) dumps the snapshot of a transaction that
meanwhile verifies the audit chain and reads its head, so what is verified and anchored is exactly
what is dumped. Beside the file go its SHA-256 (``FILE.sha256``, the ``sha256sum`` format) and the
chain's head (``FILE.anchor``: sequence and hash). A restore checks the checksum first, loads the
file into an empty database, then verifies the chain and its head against the anchor.

The anchor is kept outside the database (copy it elsewhere, or write one on a schedule with
``coordinator audit anchor FILE``): whoever can change the database can cut entries from the
chain's end and leave a chain that holds together, but not one that reaches the anchored entry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, db
from coordinator.errors import Conflict, Invalid
from coordinator.models import AuditEntry


@dataclass(frozen=True)
class Anchor:
    """The audit chain's last entry at some moment: any later chain must still contain it."""

    sequence: int
    hash: str
    written_at: str = ""

    def write(self, path: Path) -> None:
        path.write_text(json.dumps({"sequence": self.sequence, "hash": self.hash, "written_at": self.written_at}) + "\n")

    @classmethod
    def read(cls, path: Path) -> Anchor:
        try:
            data = json.loads(path.read_text())
            return cls(int(data["sequence"]), str(data["hash"]), str(data.get("written_at", "")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise Invalid(f"{path} is not an anchor file written by `coordinator backup` or `audit anchor` ({exc})") from None


@dataclass(frozen=True)
class Checked:
    """A database's audit chain, verified, and its head."""

    chain: audit.VerifyResult
    head: Anchor


async def head(session: AsyncSession) -> Anchor:
    last = (await session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))).first()
    written_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return Anchor(last.id, last.hash, written_at) if last else Anchor(0, audit.GENESIS, written_at)


async def anchor_problem(session: AsyncSession, anchor: Anchor) -> str:
    """"" when the chain still holds the anchored entry unchanged, else what is wrong."""
    if anchor.sequence == 0:
        return ""
    stored = (await session.execute(select(AuditEntry.hash).where(AuditEntry.id == anchor.sequence))).scalar()
    if stored is None:
        last = (await session.execute(select(func.max(AuditEntry.id)))).scalar() or 0
        return (f"the chain ends at entry {last}, but the anchor written {anchor.written_at or 'earlier'} names entry "
                f"{anchor.sequence}: entries were cut from its tail")
    if stored != anchor.hash:
        return f"entry {anchor.sequence} is not the one anchored (its hash differs): the chain was rewritten from there"
    return ""


async def check(session: AsyncSession) -> Checked:
    return Checked(await audit.verify(session), await head(session))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def anchor_path(path: Path) -> Path:
    return path.with_name(path.name + ".anchor")


def _write_checksum(path: Path) -> str:
    digest = sha256_of(path)
    checksum_path(path).write_text(f"{digest}  {path.name}\n")
    return digest


def verify_checksum(path: Path) -> str:
    """The file's SHA-256, once it matches the one written beside it at backup."""
    try:
        expected = checksum_path(path).read_text().split()[0]
    except (OSError, IndexError):
        raise Invalid(f"no checksum beside the backup ({checksum_path(path)}): cannot tell it is whole") from None
    actual = sha256_of(path)
    if actual != expected:
        raise Invalid(f"{path} does not match its checksum (sha256 {actual}, written {expected}): "
                      "the file was changed or cut short; use another backup")
    return actual


# --- the two databases -------------------------------------------------------------------------------

def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise Invalid("the database is in memory: nothing to back up or restore into")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump and pg_restore, with the password in the environment
    (a command line is visible to every user of the machine)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Invalid(f"{name} is not installed: install the PostgreSQL client (Debian: postgresql-client) "
                      "of the server's major version")
    return found


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API, in one step: a consistent snapshot even while the server writes."""
    origin, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        origin.backup(copy)
    finally:
        copy.close()
        origin.close()


async def _checked(database_url: str) -> Checked:
    engine = db.create_engine(database_url)
    try:
        async with db.create_sessionmaker(engine)() as session:
            return await check(session)
    finally:
        await engine.dispose()


async def _backup_sqlite(database_url: str, source: Path, target: Path) -> Checked:
    await asyncio.to_thread(_sqlite_copy, source, target)
    return await _checked(f"sqlite+aiosqlite:///{target}")


async def _backup_postgres(database_url: str, target: Path) -> Checked:
    """pg_dump the snapshot of a transaction that meanwhile verifies the chain and reads its head."""
    dsn, env = _libpq(make_url(database_url))
    pg_dump = _tool("pg_dump")
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            await connection.begin()
            snapshot = (await connection.execute(text("SELECT pg_export_snapshot()"))).scalar()
            dump = await asyncio.create_subprocess_exec(
                pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={target}", f"--dbname={dsn}",
                env=env, stderr=asyncio.subprocess.PIPE)
            async with AsyncSession(bind=connection) as session:
                checked = await check(session)
            _, errors = await dump.communicate()  # the snapshot stays open until the dump is done
            await connection.rollback()
    finally:
        await engine.dispose()
    if dump.returncode != 0:
        raise Conflict(f"pg_dump failed: {errors.decode(errors='replace').strip()}")
    return checked


async def backup(database_url: str, target: Path, anchor: Path | None = None) -> tuple[Checked, str]:
    """Write the backup, its checksum and its anchor; the chain it holds is verified."""
    url = make_url(database_url)
    if target.exists():
        raise Invalid(f"{target} exists already: give a new file name (a backup never overwrites another)")
    if url.get_backend_name() == "sqlite":
        checked = await _backup_sqlite(database_url, _sqlite_file(url), target)
    else:
        checked = await _backup_postgres(database_url, target)
    digest = _write_checksum(target)
    checked.head.write(anchor or anchor_path(target))
    return checked, digest


async def has_tables(database_url: str) -> bool:
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                query = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            else:
                query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
            return bool((await connection.execute(text(query))).scalar())
    finally:
        await engine.dispose()


async def restore(database_url: str, source: Path) -> tuple[Checked, str, str]:
    """Load a checked backup into an empty database, then verify its chain and, where its anchor
    lies beside it, that the chain reaches the anchored entry. Returns what was checked, the
    file's SHA-256 and the anchor's problem ("" when it holds)."""
    digest = verify_checksum(source)
    url = make_url(database_url)
    if await has_tables(database_url):
        raise Conflict(f"{url.render_as_string()} is not empty: restore into a new, empty database "
                       "(then point COORDINATOR_DATABASE_URL at it), so nothing is overwritten")
    if url.get_backend_name() == "sqlite":
        await asyncio.to_thread(_sqlite_copy, source, _sqlite_file(url))
    else:
        dsn, env = _libpq(url)
        loading = await asyncio.create_subprocess_exec(
            _tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={dsn}", str(source),
            env=env, stderr=asyncio.subprocess.PIPE)
        _, errors = await loading.communicate()
        if loading.returncode != 0:
            raise Conflict(f"pg_restore failed: {errors.decode(errors='replace').strip()}")
    checked = await _checked(database_url)
    problem = ""
    if anchor_path(source).exists():
        engine = db.create_engine(database_url)
        try:
            async with db.create_sessionmaker(engine)() as session:
                problem = await anchor_problem(session, Anchor.read(anchor_path(source)))
        finally:
            await engine.dispose()
    return checked, digest, problem
