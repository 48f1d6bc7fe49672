"""The ``coordinator`` command: serve, migrate, users, tokens, agencies, audit, minutes, demo, webhooks."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import fcntl
import gc
import getpass
import os
import secrets
import sys

from sqlalchemy.engine import make_url

from coordinator import accounts, db, webhooks
from coordinator.errors import DomainError
from coordinator.lifecycle import monitor
from coordinator.models import utcnow
from coordinator.plugins import PluginError, load_agencies
from coordinator.settings import Settings

SERVING_GC_THRESHOLDS = (20_000, 20, 100)  # young, middle, old: see collect_garbage_for_serving
GRACEFUL_SHUTDOWN_SECONDS = 10
SQLITE_ONE_PROCESS = ("SQLite serves one process only. To run several server processes, use PostgreSQL "
                      "(COORDINATOR_DATABASE_URL).")


async def _with_session(settings: Settings, work):  # noqa: ANN001
    engine = db.create_engine(settings.database_url)
    try:
        await db.ensure_migrated(engine)
        async with db.create_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """From stdin when piped (``--password-stdin``), else a generated one-time password."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if sys.stdin.isatty() and args.prompt:
        return getpass.getpass("Password: "), False
    return secrets.token_urlsafe(12), True


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    password, generated = _read_password(args)
    registry = load_agencies()

    async def work(session):  # noqa: ANN001, ANN202
        return await accounts.create_user(session, username=args.username, agency=args.agency, role=args.role,
                                          password=password, display_name=args.name, agencies=registry.keys,
                                          password_min_length=settings.password_min_length)

    user = asyncio.run(_with_session(settings, work))
    print(f"created {user.username} ({user.role}{', ' + user.agency if user.agency else ''})")
    if generated:
        print(f"one-time password: {password}")
    return 0


def cmd_users_deactivate(args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_with_session(settings, lambda session: accounts.deactivate_user(session, args.username)))
    print(f"deactivated {args.username}: logged out everywhere; API tokens refused while inactive")
    return 0


def cmd_tokens_create(args: argparse.Namespace, settings: Settings) -> int:
    async def work(session):  # noqa: ANN001, ANN202
        user = await accounts.user_by_username(session, args.username)
        return await accounts.create_token(session, user, days=args.days)

    print(asyncio.run(_with_session(settings, work)))
    return 0


def cmd_tokens_list(args: argparse.Namespace, settings: Settings) -> int:
    tokens = asyncio.run(_with_session(settings, lambda session: accounts.tokens_of(session, args.username)))
    if not tokens:
        print(f"{args.username} has no API tokens")
    for token in tokens:
        print(f"{token.id}\t{accounts.token_status(token)}\tcreated {token.created_at:%Y-%m-%d %H:%M}"
              f"\texpires {token.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, settings: Settings) -> int:
    token = asyncio.run(_with_session(settings, lambda session: accounts.revoke_token(session, args.token_id)))
    print(f"token {token.id} revoked")
    return 0


def cmd_agencies(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_agencies()
    for agency in registry:
        hooks = sorted(impl.name for impl in registry.pm.get_hookcallers(agency.plugin) or [])
        print(f"{agency.key}: {agency.name}")
        print(f"  module: {agency.plugin.__name__}")
        print(f"  hooks: {', '.join(hooks)}")
        print(f"  categories: {', '.join(agency.categories) or '-'}")
        print(f"  responsibilities: {', '.join(r.key for r in agency.responsibilities) or '-'}")
    return 0


def cmd_webhooks_add(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_agencies()
    endpoint = asyncio.run(_with_session(
        settings, lambda session: webhooks.add_endpoint(session, registry.keys, args.agency, args.url)))
    print(f"endpoint {endpoint.id} of {endpoint.agency}: {endpoint.url}")
    print(f"signing secret (shown once; give it to the agency's system): {endpoint.secret}")
    return 0


def cmd_webhooks_list(args: argparse.Namespace, settings: Settings) -> int:
    found = asyncio.run(_with_session(settings, webhooks.endpoints))
    if not found:
        print("no webhook endpoints")
    for endpoint in found:
        print(f"{endpoint.id}\t{endpoint.agency}\t{endpoint.url}\tadded {endpoint.created_at:%Y-%m-%d %H:%M} UTC")
    return 0


def cmd_webhooks_remove(args: argparse.Namespace, settings: Settings) -> int:
    endpoint = asyncio.run(_with_session(settings, lambda session: webhooks.remove_endpoint(session, args.endpoint_id)))
    print(f"endpoint {endpoint.id} removed: nothing more is sent to {endpoint.url}")
    return 0


def cmd_webhooks_test(args: argparse.Namespace, settings: Settings) -> int:
    print(asyncio.run(_with_session(settings, lambda session: webhooks.test_endpoint(session, args.endpoint_id))))
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    db.migrate(settings.database_url)
    print(f"database migrated: {settings.database_url}")
    return 0


def _hold_sqlite_file(database_url: str):  # noqa: ANN202 (an open file, held for the process's life)
    """SQLite is one server process: two processes on one file each see their own snapshot and
    lose each other's updates. The first server holds a lock beside the file; a second is refused.
    Every other command (migrate, users, tokens, audit, demo) may run while the server does."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    lock = open(f"{url.database}.serve-lock", "a")  # noqa: SIM115
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise SystemExit(f"another server is already serving {url.database}: {SQLITE_ONE_PROCESS}") from None
    return lock


def _refuse_workers(settings: Settings, workers: int) -> None:
    """Several workers need what several server processes need: PostgreSQL, and a channels
    backend they share (with the memory one, a change made through one worker would never reach
    the pages open on another)."""
    if workers < 1:
        raise SystemExit("--workers must be 1 or more")
    if workers == 1:
        return
    url = make_url(settings.database_url)
    if url.drivername.startswith("sqlite"):
        raise SystemExit(f"--workers {workers} would serve {url.database} from {workers} processes: {SQLITE_ONE_PROCESS}")
    if settings.channels_url == "memory":
        raise SystemExit(f"--workers {workers} needs a channels backend the workers share: set COORDINATOR_CHANNELS_URL "
                         "to redis://… or postgresql://… (live pages on one worker would not hear the others)")


def serving_app():  # noqa: ANN201 (a Litestar app)
    """The app as each worker process of ``serve --workers N`` builds it."""
    from coordinator.app import create_app
    from coordinator.web import observe

    app = create_app(Settings.from_env())
    observe.log_json_lines()  # after create_app, which sets Litestar's own logging up
    collect_garbage_for_serving()
    return app


def collect_garbage_for_serving() -> None:
    """Keep the garbage collector's pauses out of live updates. A full collection walks every
    object the collector tracks: the code imported at start-up (some 126,000 objects) and every
    open page's; with 400 pages open one took 70-130 ms, and every update in flight waited. So
    what exists at start-up, which lives as long as the process, is frozen (never walked again),
    and a young collection waits for 20,000 new objects instead of 700: the short-lived objects
    of a request or an update are freed by their reference counts before a collection would
    move them on to the old generation, so full collections become rare."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from coordinator.app import create_app
    from coordinator.web import observe

    _refuse_workers(settings, args.workers)
    held = _hold_sqlite_file(settings.database_url)  # noqa: F841 (released when the process ends)
    app = create_app(settings)  # fails here, before listening, on a broken plugin
    print(f"Case Conference Coordinator on http://{args.host}:{args.port}/  (log in at /login)", flush=True)
    # JSON lines, uvicorn's included; its access log is replaced by the app's (route templates,
    # never a path's query, which may hold a name searched for).
    observe.log_json_lines()
    # No per-message compression: every live fragment would be compressed once per connection,
    # which at 200 participants is a third of the server's time, for little gain on a LAN. On
    # SIGTERM, requests and open pages get GRACEFUL_SHUTDOWN_SECONDS to finish (pages are told
    # "service restart", 1012, and reconnect to the next process).
    options = {"host": args.host, "port": args.port, "log_config": None, "access_log": False,
               "ws": "websockets-sansio", "ws_per_message_deflate": False,
               "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS}
    if args.workers == 1:
        collect_garbage_for_serving()
        uvicorn.run(app, **options)
        return 0
    del app
    # The workers share the port (uvicorn's supervisor restarts one that dies) and must share the
    # CSRF secret: one generated here reaches them through the environment.
    os.environ.setdefault("COORDINATOR_SECRET_KEY", settings.secret_key)
    uvicorn.run("coordinator.cli:serving_app", factory=True, workers=args.workers, **options)
    return 0


def cmd_transfer_key(args: argparse.Namespace, settings: Settings) -> int:
    """The line a receiving MARAC adds to its COORDINATOR_TRANSFER_TRUSTED (the key is made on first use)."""
    from coordinator import transfers

    print(f"{settings.deployment_name}={asyncio.run(_with_session(settings, transfers.public_key))}")
    return 0


async def _acting(session, username: str):  # noqa: ANN001, ANN202 (the session's actor)
    user = await accounts.user_by_username(session, username)
    return accounts.actor_of(user)


def cmd_transfer_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the case's signed bundle to FILE; the case closes as transferred."""
    import json
    from pathlib import Path

    from coordinator import transfers

    async def work(session):  # noqa: ANN001, ANN202
        actor = await _acting(session, args.by)
        case_id = await transfers.case_id_of(session, args.reference)
        data = transfers.ExportIn(to=args.to, consent_id=args.consent, override_id=args.override)
        return await transfers.export_case(session, actor, case_id, data, settings.deployment_name, utcnow().date())

    try:
        bundle = asyncio.run(_with_session(settings, work))
    except DomainError as error:
        print(f"not transferred: {error.message}", file=sys.stderr)
        return 1
    Path(args.file).write_text(json.dumps(bundle, ensure_ascii=False))
    print(f"case {args.reference} transferred to {args.to}: send {args.file}")
    return 0


def cmd_transfer_import(args: argparse.Namespace, settings: Settings) -> int:
    """A new case from a bundle FILE signed by a trusted MARAC."""
    from pathlib import Path

    from coordinator import transfers

    async def work(session):  # noqa: ANN001, ANN202
        actor = await _acting(session, args.by)
        case = await transfers.import_bundle(session, actor, transfers.bundle_from_text(Path(args.file).read_bytes()),
                                             transfers.trusted_senders(settings.transfer_trusted), utcnow().date())
        return case.reference

    try:
        reference = asyncio.run(_with_session(settings, work))
    except DomainError as error:
        print(f"not imported: {error.message}", file=sys.stderr)
        return 1
    print(f"imported as case {reference}")
    return 0


def _report_chain(result) -> bool:  # noqa: ANN001 (an audit.VerifyResult)
    if result.ok:
        print(f"audit log intact: {result.checked} entries verified")
    else:
        print(f"audit log BROKEN at entry {result.broken_id}: {result.problem} "
              f"({result.checked} entries before it verified)")
    return result.ok


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """The chain holds together and, given an anchor written earlier, still reaches its entry."""
    from pathlib import Path

    from coordinator import audit, backups

    anchor = backups.Anchor.read(Path(args.anchor)) if args.anchor else None

    async def work(session):  # noqa: ANN001, ANN202
        return await audit.verify(session), await backups.anchor_problem(session, anchor) if anchor else ""

    result, problem = asyncio.run(_with_session(settings, work))
    intact = _report_chain(result)
    if problem:
        print(f"audit log BROKEN: {problem}")
    elif anchor:
        print(f"the chain reaches the anchored entry {anchor.sequence} unchanged")
    return 0 if intact and not problem else 1


def cmd_audit_anchor(args: argparse.Namespace, settings: Settings) -> int:
    """Write the chain's head to FILE (for cron: keep it outside the database's machine)."""
    from pathlib import Path

    from coordinator import backups

    head = asyncio.run(_with_session(settings, backups.head))
    head.write(Path(args.file))
    print(f"anchored entry {head.sequence} ({head.hash[:16]}…) in {args.file}")
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from coordinator import backups

    target = Path(args.file)
    anchor = Path(args.anchor) if args.anchor else backups.anchor_path(target)
    checked, digest = asyncio.run(backups.backup(settings.database_url, target, anchor))
    print(f"backed up to {target} (sha256 {digest}, in {backups.checksum_path(target)})")
    intact = _report_chain(checked.chain)
    print(f"audit chain head: entry {checked.head.sequence}, anchored in {anchor}")
    return 0 if intact else 1


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from coordinator import backups

    source = Path(args.file)
    checked, digest, problem = asyncio.run(backups.restore(settings.database_url, source))
    print(f"restored {source} (sha256 {digest} matches its checksum)")
    intact = _report_chain(checked.chain)
    if problem:
        print(f"audit log BROKEN: {problem}")
    elif backups.anchor_path(source).exists():
        print(f"the chain reaches the backup's anchored entry {checked.head.sequence}")
    return 0 if intact and not problem else 1


def cmd_minutes_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Is FILE a copy of minutes this server gave out, unchanged? Its SHA-256 is looked up among
    the digests the audit chain recorded as files were served; the chain itself is checked too,
    since a match in a broken chain proves nothing."""
    from pathlib import Path

    from coordinator import audit, minutes_files

    try:
        content = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    sha256 = minutes_files.digest(content)

    async def work(session):  # noqa: ANN001, ANN202
        return await audit.verify(session), await minutes_files.generated_with(session, sha256)

    chain, found = asyncio.run(_with_session(settings, work))
    if not chain.ok:
        print(f"{args.file}: cannot be checked: the audit log is BROKEN at entry {chain.broken_id} ({chain.problem})")
        return 1
    if not found:
        print(f"{args.file}: matches no generated minutes (sha256 {sha256}): not a copy this server gave out, "
              "or changed since")
        return 1
    registry = load_agencies()
    first = found[0]
    copy = f"{registry.name(first.agency)} copy" if first.agency else "coordinators' copy"
    title = f" ({first.conference_title})" if first.conference_title else ""
    served = f"; served {len(found)} times, last {found[-1].at:%Y-%m-%d %H:%M} UTC" if len(found) > 1 else ""
    print(f"{args.file}: minutes of conference {first.conference_id}{title}, {copy}, "
          f"{minutes_files.FORMATS[first.format].label}, generated {first.at:%Y-%m-%d %H:%M} UTC "
          f"(audit entry {first.audit_id}){served}")
    return 0


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    """List (--dry-run) or remove (--apply) the text of closed cases past the retention period."""
    from coordinator.lifecycle import retention

    async def work(session):  # noqa: ANN001, ANN202
        if args.apply:
            return await retention.apply(session, utcnow(), settings.retention_days, settings.search_log_days)
        found = await retention.due(session, utcnow(), settings.retention_days)
        await session.rollback()
        return found

    found = asyncio.run(_with_session(settings, work))
    verb = "removed the text of" if args.apply else "due (nothing changed; --apply removes their text):"
    print(f"{verb} {len(found)} closed case(s) past {settings.retention_days} days")
    for case in found:
        print(f"  {case.reference} closed {case.closed_at.date().isoformat()}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from coordinator.demo import load_demo

    for line in asyncio.run(_with_session(settings, lambda s: load_demo(s, load_agencies()))):
        print(line)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="coordinator", description="Case Conference Coordinator")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes sharing the port (PostgreSQL and a shared channels backend only)")
    serve.set_defaults(run=cmd_serve)

    sub.add_parser("migrate", help="bring the database up to date").set_defaults(run=cmd_migrate)
    sub.add_parser("agencies", help="list the installed agency plugins and their hooks").set_defaults(run=cmd_agencies)
    sub.add_parser("demo", help="load demo users, a case and a conference").set_defaults(run=cmd_demo)

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="create a user; prints a one-time password unless given one")
    create.add_argument("--username", required=True)
    create.add_argument("--agency")
    create.add_argument("--role", required=True, choices=accounts.ROLES)
    create.add_argument("--name", help="display name")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    create.add_argument("--prompt", action="store_true", help="ask for the password on the terminal")
    create.set_defaults(run=cmd_users_create)
    deactivate = users.add_parser("deactivate", help="stop a user logging in; ends their sessions now")
    deactivate.add_argument("username")
    deactivate.set_defaults(run=cmd_users_deactivate)

    tokens = sub.add_parser("tokens", help="API tokens").add_subparsers(dest="action", required=True)
    token = tokens.add_parser("create", help="print a new API token for a user")
    token.add_argument("--username", required=True)
    token.add_argument("--days", type=int, default=accounts.TOKEN_DAYS,
                       help=f"days until it expires (default {accounts.TOKEN_DAYS})")
    token.set_defaults(run=cmd_tokens_create)
    listing = tokens.add_parser("list", help="a user's tokens: id, status, created, expires")
    listing.add_argument("username")
    listing.set_defaults(run=cmd_tokens_list)
    revoke = tokens.add_parser("revoke", help="refuse a token from now on")
    revoke.add_argument("token_id", type=int)
    revoke.set_defaults(run=cmd_tokens_revoke)

    audit_cmd = sub.add_parser("audit", help="the audit log").add_subparsers(dest="action", required=True)
    verify = audit_cmd.add_parser("verify", help="check the hash chain (and that it reaches an anchored entry)")
    verify.add_argument("--anchor", help="an anchor file written by `backup` or `audit anchor`: detects a cut tail")
    verify.set_defaults(run=cmd_audit_verify)
    anchor = audit_cmd.add_parser("anchor", help="write the chain's last entry to FILE (run it on a schedule)")
    anchor.add_argument("file")
    anchor.set_defaults(run=cmd_audit_anchor)
    transfer = sub.add_parser("transfer", help="cases moving to or from another MARAC").add_subparsers(
        dest="action", required=True)
    transfer.add_parser("key", help="print NAME=KEY for the receiving MARACs' COORDINATOR_TRANSFER_TRUSTED").set_defaults(
        run=cmd_transfer_key)
    send = transfer.add_parser("export", help="write a case's signed bundle to FILE and close it as transferred")
    send.add_argument("reference", help="the case's reference, e.g. C-2026-0001")
    send.add_argument("file")
    send.add_argument("--to", required=True, help="the MARAC the case goes to")
    send.add_argument("--by", required=True, help="the coordinator's username")
    basis = send.add_mutually_exclusive_group(required=True)
    basis.add_argument("--consent", type=int, help="the id of her consent on the case")
    basis.add_argument("--override", type=int, help="the id of an approved override in force on the case")
    send.set_defaults(run=cmd_transfer_export)
    take = transfer.add_parser("import", help="create a case from a bundle FILE signed by a trusted MARAC")
    take.add_argument("file")
    take.add_argument("--by", required=True, help="the coordinator's username")
    take.set_defaults(run=cmd_transfer_import)
    save = sub.add_parser("backup", help="back up the database to FILE, with FILE.sha256 and FILE.anchor")
    save.add_argument("file")
    save.add_argument("--anchor", help="where to write the audit chain's head (default FILE.anchor)")
    save.set_defaults(run=cmd_backup)
    load = sub.add_parser("restore", help="load a backup FILE into the (empty) database, then verify it")
    load.add_argument("file")
    load.set_defaults(run=cmd_restore)
    minutes_cmd = sub.add_parser("minutes", help="minutes files").add_subparsers(dest="action", required=True)
    check = minutes_cmd.add_parser("verify", help="is FILE an unchanged copy of minutes the server gave out?")
    check.add_argument("file")
    check.set_defaults(run=cmd_minutes_verify)
    keep = sub.add_parser("retention", help="closed cases past the retention period: list, or remove their text")
    mode = keep.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="list what is due, change nothing")
    mode.add_argument("--apply", action="store_true", help="remove the text and personal details of what is due")
    keep.set_defaults(run=cmd_retention)
    hooks = sub.add_parser("webhooks", help="agencies' webhook endpoints (signed notifications)").add_subparsers(
        dest="action", required=True)
    add = hooks.add_parser("add", help="add an endpoint for an agency; prints its signing secret once")
    add.add_argument("agency")
    add.add_argument("url")
    add.set_defaults(run=cmd_webhooks_add)
    hooks.add_parser("list", help="the endpoints: id, agency, address, added").set_defaults(run=cmd_webhooks_list)
    for action, about, run in (("remove", "stop sending to an endpoint", cmd_webhooks_remove),
                               ("test", "send a signed test message to an endpoint now", cmd_webhooks_test)):
        one = hooks.add_parser(action, help=about)
        one.add_argument("endpoint_id", type=int)
        one.set_defaults(run=run)
    watch = sub.add_parser("monitor", help="raise the case events dates bring (key dates, follow-ups, overdue tasks)")
    watch.add_argument("--once", action="store_true", help="one run, then exit (for cron)")
    watch.add_argument("--today", type=_date, help=argparse.SUPPRESS)  # a run as of another day
    watch.set_defaults(run=cmd_monitor)
    return p


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_monitor(args: argparse.Namespace, settings: Settings) -> int:
    """One monitor run, for cron: raise what is due (and what was missed while nothing ran)."""
    if not args.once:
        print("error: give --once (inside `coordinator serve` the monitor runs by itself)", file=sys.stderr)
        return 2
    registry = load_agencies()

    async def run() -> int:
        engine = db.create_engine(settings.database_url)
        try:
            await db.ensure_migrated(engine)
            return await monitor.run_once(db.create_sessionmaker(engine), registry, args.today or utcnow().date(),
                                          settings.monitor_near_days)
        finally:
            await engine.dispose()

    print(f"raised {asyncio.run(run())} case events")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        return args.run(args, settings)
    except (DomainError, PluginError, db.NotMigrated) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
