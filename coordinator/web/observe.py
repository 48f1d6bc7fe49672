"""What an operator watches: Prometheus metrics at ``/metrics`` and one JSON line per request.

Every HTTP request is counted by its route template (``/cases/{case_id:int}``), never by its
path or query: the template carries no case's data, and keeps the number of series bounded. The
same holds for the request log line, which replaces uvicorn's access log (its lines carry the
query string, where a search for a name would put the name). A request id ties a request's log
lines together; one sent by the proxy (nginx's ``$request_id``) is kept, so both logs agree.

``/metrics`` answers only the addresses in ``metrics_addresses`` (loopback by default) or a
request carrying ``Authorization: Bearer <metrics_token>``.
"""

from __future__ import annotations

import contextvars
import hmac
import ipaddress
import json
import logging
import re
import time
import uuid
from typing import TextIO

from litestar import Litestar, Request, Response, get
from litestar.datastructures import MutableScopeHeaders, State
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from coordinator.delivery import Tally

REQUEST_ID = contextvars.ContextVar("request_id", default="")
REQUEST_ID_HEADER = "x-request-id"
ACCEPTED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a proxy's id; anything else is replaced
EXPOSITION_FORMAT = "text/plain; version=0.0.4"  # Prometheus' text format; the charset is added
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route answered (a 404 from the router)
access_log = logging.getLogger("coordinator.access")


class Metrics:
    """One application's metrics, in a registry of its own (each app, and each test's app, starts
    from zero). Gauges are read when scraped, from the objects that hold the numbers."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("coordinator_http_requests", "HTTP requests answered, by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("coordinator_http_request_seconds", "Time to answer an HTTP request",
                                 ["method", "route"], registry=self.registry)
        self.fanout = Histogram("coordinator_live_fanout_seconds",
                                "Time from a conference change reaching this process to its pages' updates being queued",
                                registry=self.registry)
        self.monitor_runs = Counter("coordinator_monitor_runs", "Monitor runs in this process, by outcome",
                                    ["outcome"], registry=self.registry)
        self.live_pages = Gauge("coordinator_live_pages", "Live pages open in this process (conference and case pages)",
                                registry=self.registry)
        self.live_queued = Gauge("coordinator_live_queued_messages",
                                 "Updates queued for open live pages, not yet sent", registry=self.registry)
        self.channels_up = Gauge("coordinator_channels_up", "1 while the channels backend (live fan-out) is reachable",
                                 registry=self.registry)
        self.pool_in_use = Gauge("coordinator_db_connections_in_use", "Database connections checked out of the pool",
                                 registry=self.registry)
        self.notifications = Counter("coordinator_notifications", "Notifications handled in this process, by outcome",
                                     ["outcome"], registry=self.registry)
        self.outbox_depth = Gauge("coordinator_notification_outbox_depth",
                                  "Notifications not yet sent (as of this process's last delivery pass)",
                                  registry=self.registry)
        self.pool_size = Gauge("coordinator_db_pool_size", "Database connections the pool keeps",
                               registry=self.registry)

    def watch(self, state: State) -> None:
        """Read the live hub, the channels and the engine's pool at each scrape."""
        live, pool = state.live, state.engine.pool
        self.live_pages.set_function(lambda: len(live.open_pages()))
        self.live_queued.set_function(lambda: sum(member.outbox.qsize() for member in live.open_pages()))
        self.channels_up.set_function(lambda: 0 if live.channels.down else 1)
        self.pool_in_use.set_function(pool.checkedout)
        self.pool_size.set_function(pool.size)

    def monitor_run(self, succeeded: bool) -> None:
        self.monitor_runs.labels("done" if succeeded else "failed").inc()

    def delivery_pass(self, tally: Tally, depth: int) -> None:
        for outcome in ("sent", "retried", "failed", "withheld"):
            self.notifications.labels(outcome).inc(getattr(tally, outcome))
        self.outbox_depth.set(depth)


def observe_requests(app: Litestar, metrics: Metrics) -> None:
    """Wrap the app's handler (routing and error handling included, so the router's own 404s are
    counted too): set the request id, then count, time and log every HTTP answer."""
    inner: ASGIApp = app.asgi_handler

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        sent = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        token = REQUEST_ID.set(sent if ACCEPTED_REQUEST_ID.match(sent) else uuid.uuid4().hex)
        if scope["type"] != "http":
            try:
                await inner(scope, receive, send)
            finally:
                REQUEST_ID.reset(token)
            return
        status = 500  # what the server answers when nothing was sent

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = REQUEST_ID.get()
            await send(message)

        started = time.perf_counter()
        try:
            await inner(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or UNMATCHED
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"  # a client's word: bounded
            metrics.requests.labels(method, route, str(status)).inc()
            metrics.latency.labels(method, route).observe(seconds)
            access_log.info("request", extra={"method": method, "route": route, "status": status,
                                              "ms": round(seconds * 1000, 1)})
            REQUEST_ID.reset(token)

    app.asgi_handler = observed


def allowed_networks(addresses: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(address, strict=False) for address in addresses]


def _may_scrape(request: Request, networks: list, token: str) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    client = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in network for network in networks)


@get("/metrics", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def metrics_page(request: Request, state: State) -> Response[bytes]:
    settings = state.settings
    if not _may_scrape(request, allowed_networks(settings.metrics_addresses), settings.metrics_token):
        raise PermissionDeniedException("the metrics are served to the addresses in COORDINATOR_METRICS_ADDRESSES, "
                                        "or with the bearer token COORDINATOR_METRICS_TOKEN")
    return Response(generate_latest(state.metrics.registry), media_type=EXPOSITION_FORMAT)


# --- structured logs -----------------------------------------------------------------------------

# What every record has (and uvicorn's coloured copy of its message): not repeated as fields.
STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "color_message"}


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, the process (one of several workers), message,
    the request id where there is one,
    the fields a call passed in ``extra``, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name, "pid": record.process,
                "message": record.getMessage()}
        if request_id := REQUEST_ID.get():
            line["request_id"] = request_id
        line.update({key: value for key, value in vars(record).items() if key not in STANDARD_ATTRIBUTES})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


JsonLines.converter = time.gmtime


def log_json_lines(level: int = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Every logger (uvicorn's included) writes JSON lines to standard error."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return handler
