"""Checks every request passes before its handler runs, whatever the route, so a route added
later is covered without anyone remembering: ids in range, and a JSON body that is JSON.

Also the error answers the OpenAPI document declares for every route, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import MediaType, RequestEncodingType
from litestar.exceptions import ClientException, HTTPException, NotFoundException, SerializationException
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.types import Empty

from coordinator.limits import MAX_ID

MAX_BODY_BYTES = 1_000_000  # the largest input (an item of 20,000 characters) is a small fraction
MAX_JSON_DEPTH = 16  # the deepest input (a referral's people or key dates) nests 3 levels


def _json_body(handler: BaseRouteHandler) -> bool:
    data = handler.parsed_fn_signature.parameters.get("data")
    return data is not None and getattr(data.kwarg_definition, "media_type", None) in (None, RequestEncodingType.JSON)


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, counted without recursion (a hostile body could be deeper than
    Python's recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_JSON_DEPTH:
            children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
            stack.extend((child, depth + 1) for child in children)
    return deepest


async def check_request(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Every route's guard. A path id outside what the database can hold names nothing there: a
    404, as for any missing thing (PostgreSQL's Integer is int32, and the driver would fail on
    it). A JSON route takes JSON only: the decoder's own failures on bad UTF-8 or deep nesting
    would otherwise be server errors."""
    for value in connection.path_params.values():
        if isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise NotFoundException("there is nothing with that id")
    if not isinstance(connection, Request) or not _json_body(handler):
        return
    media_type = connection.content_type[0]
    if media_type != MediaType.JSON and not media_type.endswith("+json"):
        raise HTTPException(status_code=415, detail="send the body as JSON, with content-type application/json")
    try:
        body = await connection.json()  # kept by the request: the handler's data is read from it
    except (SerializationException, UnicodeDecodeError, RecursionError, ValueError):
        raise ClientException("the body is not valid JSON (UTF-8)") from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise ClientException(f"the body nests deeper than {MAX_JSON_DEPTH} levels")


def sent_json(request: Request) -> Any:
    """The JSON body ``check_request`` decoded and the request kept (None if it was not read), for
    an error answer to look at what was sent: error handlers cannot await the body."""
    kept = request._connection_state.json  # noqa: SLF001 (Litestar's cache of the decoded body)
    return None if kept is Empty else kept


@dataclass
class ErrorBody:
    """Every error answer of the JSON API: the message, the input field at fault where there is
    one, and details (each failed check of the input; a 409's current state)."""

    status_code: int
    detail: str
    field: str | None = None
    extra: Any = None


def _answers(handler: HTTPRouteHandler, path: str) -> dict[int, ResponseSpec]:
    """The answers a route can give besides its own success: errors (the API's as JSON, a page's
    as an error page), and for a form, the page again or a redirect to the next one."""
    api = path.startswith("/api/")
    writes = bool(handler.http_methods - {"GET", "HEAD"})
    statuses = {400: "the input breaks a rule", 401: "not logged in", 403: "not allowed",
                404: "no such thing (or not visible to you)", 409: "changed meanwhile, or no longer allowed"}
    if writes:
        statuses[413] = "the body is too large"
        if api:
            statuses[415] = "the body is not JSON"
        else:
            statuses[200] = "the page again (with the error, or the part the change updated)"
    answers = {status: ResponseSpec(data_container=ErrorBody if api else str, description=description,
                                    media_type=MediaType.JSON if api else MediaType.HTML, generate_examples=False)
               for status, description in statuses.items()}
    if writes and not api:
        answers[303] = ResponseSpec(data_container=None, description="done: on to the next page",
                                    generate_examples=False)
    return answers


@dataclass  # so that its __post_init__ runs
class FormOperation(Operation):
    """A page's form post: its handler reads the form itself (the field names are the form's),
    so the document says only that the body is a form of named text fields."""

    def __post_init__(self) -> None:
        if self.request_body is None:
            fields = Schema(type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING))
            self.request_body = RequestBody(content={RequestEncodingType.URL_ENCODED: OpenAPIMediaType(schema=fields)})


def declare_errors(handlers: list) -> None:
    """Add the shared error answers to each route's OpenAPI description (its own come first),
    and describe a page's form post as one."""
    for handler in handlers:
        if isinstance(handler, HTTPRouteHandler):
            for path in handler.paths:
                handler.responses = {**_answers(handler, path), **(handler.responses or {})}
                if not path.startswith("/api/") and handler.http_methods - {"GET", "HEAD"}:
                    handler.operation_class = FormOperation
