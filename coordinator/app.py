"""create_app(settings) -> Litestar: the one place where the pieces are wired together."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders, ResponseHeader, State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator import db as database
from coordinator import delivery, events
from coordinator.conference import participation
from coordinator.errors import DomainError, Invalid
from coordinator.lifecycle import monitor, referrals, strategies
from coordinator.limits import explain, missing_field, value_at
from coordinator.plugins import AgencyRegistry, PluginError, load_agencies
from coordinator.settings import Settings
from coordinator.web import ROUTES, idempotency, observe, openapi, template_globals
from coordinator.web.auth import (
    PUBLIC_PATHS,
    PUBLIC_PREFIXES,
    CsrfUnlessBearer,
    LoginStepNeeded,
    UserMiddleware,
    is_htmx,
    login_url,
)
from coordinator.web.edge import MAX_BODY_BYTES, check_request, declare_errors, sent_json
from coordinator.web.live.channels import Channels
from coordinator.web.live.hub import LiveHub
from coordinator.web.sections import workspace
from coordinator.web.sessions import DatabaseSessionStore, session_config

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
STATIC_PREFIX = "/static/"
log = logging.getLogger("coordinator")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.startswith("/schema")


def _error_response(request: Request, status: int, message: str, field: str | None = None,
                    extra: object = None, headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        body: dict = {"status_code": status, "detail": message}
        if field:
            body["field"] = field
        if extra:
            body["extra"] = extra
        return Response(body, status_code=status, headers=headers)
    return Template("error.html", status_code=status, headers=headers,
                    context={"status": status, "message": message, "field": field})


def domain_error(request: Request, exc: DomainError) -> Response:
    return _error_response(request, exc.status, exc.message, exc.field, exc.extra)


def plugin_error(request: Request, exc: PluginError) -> Response:
    """An agency plugin failed while serving a request: the transaction is not committed, and
    the answer names the plugin so the failure is not mistaken for bad input."""
    log.error("agency plugin failure on %s %s: %s", request.method, request.url.path, exc)
    return _error_response(request, 502, f"{exc}; nothing was saved")


def http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotAuthorizedException) and not wants_json(request):
        # Logged in by password with a step left to do: on to its page, else to the login page.
        target = exc.location if isinstance(exc, LoginStepNeeded) else login_url(request)
        if is_htmx(request):
            # A redirect would be followed inside the XMLHttpRequest and the login form swapped
            # into a fragment: htmx loads the whole page instead.
            return _error_response(request, 401, exc.detail, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
    extra = exc.extra if isinstance(exc, ValidationException) else None
    field, message = None, exc.detail
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        # The first check the input failed, as the message: "Validation failed" alone says nothing.
        failed = str(extra[0].get("message"))
        field = missing_field(failed, extra[0].get("key")) or extra[0].get("key")
        data = request.route_handler.parsed_fn_signature.parameters.get("data")
        explained = explain(failed, data and data.annotation, field, value_at(sent_json(request), field))
        message = f"{field}: {explained}" if field else message
    # The exception's headers carry meaning (Allow on a 405, Retry-After): keep them.
    return _error_response(request, exc.status_code, message, field, extra, headers=exc.headers)


def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, "something went wrong on the server; the change was not saved")


def _jinja(registry: AgencyRegistry, settings: Settings) -> Environment:
    """Core templates, plus each agency's own under its key as prefix ("<agency key>/…"), so no
    plugin can replace a core page."""
    prefixed = {a.key: FileSystemLoader(a.template_dir) for a in registry if a.template_dir}
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), PrefixLoader(prefixed)]),
        autoescape=select_autoescape(["html", "md"]), trim_blocks=True, lstrip_blocks=True,
    )
    env.globals.update(template_globals(registry))
    env.filters["agency_name"] = registry.name
    env.filters["fromjson"] = json.loads
    zone = settings.zone
    # Times are stored in UTC and shown in the deployment's zone, with its abbreviation.
    env.filters["local"] = lambda when: when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    env.filters["localday"] = lambda when: when.astimezone(zone).strftime("%Y-%m-%d")
    env.filters["localtime"] = lambda when: when.astimezone(zone).strftime("%H:%M")
    env.globals["timezone"] = zone.key
    env.globals["minutes_per_case"] = settings.minutes_per_case
    env.globals["threat_levels"] = settings.threat_levels
    env.globals["threat_emergency_steps"] = settings.threat_emergency_steps
    env.globals["team_sharing_bases"] = settings.team_sharing_bases
    return env


SECURITY_HEADERS = [
    ResponseHeader(name="content-security-policy", value=CONTENT_SECURITY_POLICY),
    ResponseHeader(name="x-content-type-options", value="nosniff"),
    ResponseHeader(name="referrer-policy", value="same-origin"),
]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """On every response, the router's own 404/405 and exception handlers' answers included
    (the app's response_headers reach route handlers only). Nothing but static files may be
    kept by a browser or proxy cache: pages carry case information."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for header in SECURITY_HEADERS:
        if header.name not in headers:
            headers[header.name] = header.value
    if not scope["path"].startswith(STATIC_PREFIX):
        headers["cache-control"] = "no-store"


def refuse_empty_query_values(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """An API query parameter is given a value or left out: ``?to=`` is refused, not read as
    "any" (a page's GET form sends its empty fields, and there empty does mean "any")."""
    if not connection.scope["path"].startswith("/api/"):
        return
    for name, value in connection.query_params.multi_items():
        if value == "":
            raise Invalid(f"{name}: give a value, or leave the parameter out", field=name)


def allow_every_method(app: Litestar) -> None:
    """``OPTIONS`` answers list every method of the path in ``Allow``. Litestar's own answer lists
    the methods of the first handlers registered for the path only (its route is rebuilt as more
    handlers join it, but the OPTIONS handler keeps the first)."""
    allowed: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            allowed.setdefault(route.path_format, set()).update(route.methods)
    allow = {path: ", ".join(sorted(methods)) for path, methods in allowed.items()}

    async def set_allow(message: Message, scope: Scope) -> None:
        if (message["type"] == "http.response.start" and scope.get("method") == "OPTIONS"
                and (methods := allow.get(scope.get("path_template", "")))):
            MutableScopeHeaders.from_message(message)["allow"] = methods

    app.before_send.append(set_allow)


def process_name() -> str:
    """This server process, as its live connections record it: host, pid and start time (the
    start time tells a restarted process from its predecessor when both had the same pid)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{int(time.time())}"


async def sync_plugins_into_database(sessionmaker: async_sessionmaker, registry: AgencyRegistry) -> None:
    """What the agencies' plugins contribute to stored data (their directory entries), written once
    as the server starts: plugins change only then, so no page view writes or locks for them."""
    async with sessionmaker() as session:
        await referrals.sync_plugin_services(session, registry)
        await session.commit()


def create_app(settings: Settings, registry: AgencyRegistry | None = None, *, check_migrations: bool = True) -> Litestar:
    registry = registry or load_agencies()
    strategies.catalogue(registry)  # two agencies disagreeing over a strategy stop start-up, naming the agency
    engine = database.create_engine(settings.database_url)
    sessionmaker = database.create_sessionmaker(engine)
    process = process_name()

    async def provide_db() -> AsyncIterator[AsyncSession]:
        async with sessionmaker() as session:
            yield session

    async def on_startup(app: Litestar) -> None:
        if check_migrations:
            await database.ensure_migrated(engine)
        await sync_plugins_into_database(sessionmaker, registry)
        async with sessionmaker() as session:  # pages a crashed predecessor held are not open
            if await participation.clear_process(session, process):
                log.info("cleared the live connections of an earlier process %s", process.rsplit(":", 1)[0])
            await session.commit()
        if settings.monitor_seconds:
            app.state.monitor = asyncio.create_task(monitor.run_forever(
                sessionmaker, registry, settings.monitor_near_days, settings.monitor_seconds, metrics.monitor_run))
        if settings.notify_seconds:
            app.state.deliverer = asyncio.create_task(delivery.run_forever(
                delivery.Deliverer(sessionmaker, settings), settings.notify_seconds, metrics.delivery_pass))

    async def on_shutdown(app: Litestar) -> None:
        for name in ("monitor", "deliverer"):
            if task := app.state.get(name):
                task.cancel()
        await engine.dispose()

    sessions = session_config(idle_seconds=settings.idle_seconds, secure=settings.secure_cookies,
                              exclude=[f"^{STATIC_PREFIX}"])
    csrf = CSRFConfig(secret=settings.secret_key, cookie_samesite="strict", cookie_secure=settings.secure_cookies,
                      safe_methods={"GET", "HEAD", "OPTIONS"})
    # Whole paths: "/login" must not also exclude "/login/code".
    auth = DefineMiddleware(UserMiddleware, exclude=[*(f"^{path}$" for path in sorted(PUBLIC_PATHS)), *PUBLIC_PREFIXES,
                                                     "^/favicon"])
    plugin_routes = [handler for agency in registry for handler in agency.routes]
    declare_errors([*ROUTES, *plugin_routes])
    jinja = _jinja(registry, settings)
    channels = Channels(settings.channels_url, retry_seconds=settings.channels_retry_seconds)
    live = LiveHub(channels, sessionmaker, registry, jinja, settings.channels_prefix, settings.live_outbox_limit,
                   process=process, heartbeat_seconds=settings.heartbeat_seconds,
                   session_check_seconds=settings.session_check_seconds, session_idle_seconds=settings.idle_seconds)
    live.case_page = partial(workspace.live_update, registry=registry, env=jinja)
    metrics = observe.Metrics()
    live.on_fanout = metrics.fanout.observe
    events.attach(sessionmaker, live.publish)  # committed changes reach every open page
    participation.use_presence_timeout(sessionmaker, settings.presence_timeout_seconds)

    app = Litestar(
        route_handlers=[*ROUTES, *plugin_routes, observe.metrics_page,
                        create_static_files_router(path="/static", directories=[STATIC], opt={"exclude_from_auth": True},
                                                   include_in_schema=False)],
        dependencies={
            "db": Provide(idempotency.request_session(provide_db)),
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "registry": Provide(lambda: registry, sync_to_thread=False),
        },
        state=State({"settings": settings, "registry": registry, "engine": engine, "sessionmaker": sessionmaker,
                     "live": live, "process": process,
                     "metrics": metrics}),
        lifespan=[channels],  # started before on_startup, stopped after on_shutdown, outage or not
        middleware=[sessions.middleware, DefineMiddleware(CsrfUnlessBearer, config=csrf), auth,
                    idempotency.IdempotencyMiddleware],  # after auth: keys are per user
        stores={"sessions": DatabaseSessionStore(sessionmaker)},
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(jinja)),
        exception_handlers={DomainError: domain_error, PluginError: plugin_error, HTTPException: http_error,
                            Exception: unexpected_error},
        before_send=[add_security_headers],
        guards=[check_request, refuse_empty_query_values],
        request_max_body_size=MAX_BODY_BYTES,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        openapi_config=OpenAPIConfig(title="Case Conference Coordinator", version="0.1.0", path="/schema"),
        debug=settings.debug,
    )
    openapi.use_completed_document(app)
    allow_every_method(app)
    metrics.watch(app.state)
    observe.observe_requests(app, metrics)
    return app
