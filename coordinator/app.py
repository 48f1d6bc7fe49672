"""create_app(settings) -> Litestar: the one place where the pieces are wired together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader, State
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import db as database
from coordinator.errors import DomainError
from coordinator.live import LiveHub, channels_plugin
from coordinator.plugins import AgencyRegistry, PluginError, load_agencies
from coordinator.settings import Settings
from coordinator.web import ROUTES, template_globals
from coordinator.web.auth import PUBLIC_PATHS, PUBLIC_PREFIXES, CsrfUnlessBearer, UserMiddleware
from coordinator.web.sessions import DatabaseSessionStore

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
log = logging.getLogger("coordinator")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.startswith("/schema")


def _error_response(request: Request, status: int, message: str, field: str | None = None,
                    extra: object = None) -> Response:
    if wants_json(request):
        body: dict = {"status_code": status, "detail": message}
        if field:
            body["field"] = field
        if extra:
            body["extra"] = extra
        return Response(body, status_code=status)
    return Template("error.html", status_code=status, context={"status": status, "message": message, "field": field})


def domain_error(request: Request, exc: DomainError) -> Response:
    return _error_response(request, exc.status, exc.message, exc.field)


def plugin_error(request: Request, exc: PluginError) -> Response:
    """An agency plugin failed while serving a request: the transaction is not committed, and
    the answer names the plugin so the failure is not mistaken for bad input."""
    log.error("agency plugin failure on %s %s: %s", request.method, request.url.path, exc)
    return _error_response(request, 502, f"{exc}; nothing was saved")


def http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, NotAuthorizedException) and not wants_json(request):
        return Redirect(f"/login?next={request.url.path}", status_code=303)
    extra = exc.extra if isinstance(exc, ValidationException) else None
    field = None
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        field = extra[0].get("key")
    return _error_response(request, exc.status_code, exc.detail, field, extra)


def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error_response(request, 500, "something went wrong on the server; the change was not saved")


def _jinja(registry: AgencyRegistry) -> Environment:
    """Core templates, plus each agency's own under its key as prefix ("<agency key>/…"), so no
    plugin can replace a core page."""
    prefixed = {a.key: FileSystemLoader(a.template_dir) for a in registry if a.template_dir}
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), PrefixLoader(prefixed)]),
        autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
    )
    env.globals.update(template_globals(registry))
    env.filters["agency_name"] = registry.name
    return env


SECURITY_HEADERS = [
    ResponseHeader(name="content-security-policy", value=CONTENT_SECURITY_POLICY),
    ResponseHeader(name="x-content-type-options", value="nosniff"),
    ResponseHeader(name="referrer-policy", value="same-origin"),
]


def create_app(settings: Settings, registry: AgencyRegistry | None = None, *, check_migrations: bool = True) -> Litestar:
    registry = registry or load_agencies()
    engine = database.create_engine(settings.database_url)
    sessionmaker = database.create_sessionmaker(engine)

    async def provide_db() -> AsyncIterator[AsyncSession]:
        async with sessionmaker() as session:
            yield session

    async def on_startup(app: Litestar) -> None:
        if check_migrations:
            await database.ensure_migrated(engine)

    async def on_shutdown(app: Litestar) -> None:
        await engine.dispose()

    session_config = ServerSideSessionConfig(
        max_age=settings.session_idle_minutes * 60, renew_on_access=True, httponly=True, samesite="lax",
    )
    csrf = CSRFConfig(secret=settings.secret_key, cookie_samesite="strict", safe_methods={"GET", "HEAD", "OPTIONS"})
    auth = DefineMiddleware(UserMiddleware, exclude=[*sorted(PUBLIC_PATHS), *PUBLIC_PREFIXES, "^/favicon"])
    plugin_routes = [handler for agency in registry for handler in agency.routes]
    jinja = _jinja(registry)
    channels = channels_plugin(settings)
    live = LiveHub(channels, sessionmaker, registry, jinja, settings.channels_prefix)

    return Litestar(
        route_handlers=[*ROUTES, *plugin_routes,
                        create_static_files_router(path="/static", directories=[STATIC], opt={"exclude_from_auth": True},
                                                   include_in_schema=False)],
        dependencies={
            "db": Provide(provide_db),
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "registry": Provide(lambda: registry, sync_to_thread=False),
        },
        state=State({"settings": settings, "registry": registry, "engine": engine, "sessionmaker": sessionmaker,
                     "live": live}),
        plugins=[channels],
        middleware=[session_config.middleware, DefineMiddleware(CsrfUnlessBearer, config=csrf), auth],
        stores={"sessions": DatabaseSessionStore(sessionmaker)},
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(jinja)),
        exception_handlers={DomainError: domain_error, PluginError: plugin_error, HTTPException: http_error,
                            Exception: unexpected_error},
        response_headers=SECURITY_HEADERS,
        on_startup=[on_startup],
        on_shutdown=[on_shutdown],
        openapi_config=OpenAPIConfig(title="Case Conference Coordinator", version="0.1.0", path="/schema"),
        debug=settings.debug,
    )
