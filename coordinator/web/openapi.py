"""The OpenAPI document, completed where Litestar's generator falls short of what the server
does: the ``Idempotency-Key`` header on every create, and each JSON body's schema with the limits
the server enforces (Litestar leaves out the ``msgspec.Meta`` constraints on dataclass fields, so
the document would call inputs valid that the server refuses)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from typing import Annotated, Any, Union

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.enums import RequestEncodingType
from litestar.routes import HTTPRoute

from coordinator.web import idempotency

COMPONENTS = "#/components/schemas/{name}"
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False, "description": idempotency.DESCRIPTION,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": f"^{idempotency.VALID_KEY.pattern}$"}}


def _json_inputs(routes: list[HTTPRoute]) -> dict[tuple[str, str], Any]:
    """(path as documented, method) -> the dataclass its JSON body is decoded into."""
    inputs = {}
    for route in routes:
        for method, (handler, _) in route.route_handler_map.items():
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is None or getattr(data.kwarg_definition, "media_type", None) not in (None, RequestEncodingType.JSON):
                continue
            if dataclasses.is_dataclass(data.annotation):
                inputs[(route.path_format, method.lower())] = data.annotation
    return inputs


def _strip(kind: Any) -> Any:
    """The type under ``Annotated`` and ``| None``."""
    while typing.get_origin(kind) in (Annotated, Union, types.UnionType):
        kind = typing.get_args(kind)[0] if typing.get_origin(kind) is Annotated else next(
            arg for arg in typing.get_args(kind) if arg is not type(None))
    return kind


def _mark_moments(kind: Any, schema: dict, components: dict) -> None:
    """msgspec describes a datetime as a bare string; the server takes only RFC 3339 date-times
    with an offset (a time without a zone is refused), which is what ``format: date-time`` says."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            _mark_moments(kind, option, components)
    kind = _strip(kind)
    if kind is dt.datetime and schema.get("type") == "string":
        schema["format"] = "date-time"
    elif typing.get_origin(kind) is list and "items" in schema:
        _mark_moments(typing.get_args(kind)[0], schema["items"], components)
    elif dataclasses.is_dataclass(kind) and "properties" in schema:
        hints = typing.get_type_hints(kind, include_extras=True)
        for name, field in schema["properties"].items():
            _mark_moments(hints[name], field, components)


SURROGATES = r"\ud800-\udfff"


def _without_surrogates(schema: Any) -> None:
    """Patterns as JSON Schema reads them. The server refuses lone surrogates (JSON's ``\\u``
    escapes can carry them, and they cannot be stored), but a schema's strings are Unicode text,
    which has none: the range means nothing there, and generators that cannot read it drop the
    whole pattern, control characters included."""
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str):
            schema["pattern"] = schema["pattern"].replace(SURROGATES, "")
        for value in schema.values():
            _without_surrogates(value)
    elif isinstance(schema, list):
        for value in schema:
            _without_surrogates(value)


def _add_body_limits(document: dict, routes: list[HTTPRoute]) -> None:
    """Each JSON body described by msgspec, the decoder that enforces it: lengths, ranges,
    patterns, choices and required fields as the server holds them."""
    inputs = _json_inputs(routes)
    kinds = sorted(set(inputs.values()), key=lambda kind: f"{kind.__module__}.{kind.__qualname__}")
    schemas, components = msgspec.json.schema_components(kinds, ref_template=COMPONENTS)
    by_type = dict(zip(kinds, schemas, strict=True))
    for kind, schema in by_type.items():
        _mark_moments(kind, schema, components)
    _without_surrogates(components)
    document.setdefault("components", {}).setdefault("schemas", {}).update(components)
    for (path, method), kind in inputs.items():
        operation = document["paths"][path][method]
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": by_type[kind]}}}


KEY_REUSED = {"description": "the Idempotency-Key was used for another request (another path or body)",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def _add_idempotency_key(document: dict) -> None:
    for path, item in document["paths"].items():
        if "post" in item and idempotency.applies_to("POST", path):
            item["post"]["parameters"] = [*item["post"].get("parameters", []), IDEMPOTENCY_KEY]
            item["post"].setdefault("responses", {}).setdefault("422", KEY_REUSED)


def _refuse_empty_queries(document: dict) -> None:
    """The API refuses an empty query value (``?to=``): a string parameter has a character at least."""
    for path, item in document["paths"].items():
        if path.startswith("/api/"):
            for operation in item.values():
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "query":
                        for option in [parameter["schema"], *parameter["schema"].get("oneOf", [])]:
                            if option.get("type") == "string":
                                option.setdefault("minLength", 1)


def complete(document: dict, routes: list[HTTPRoute]) -> dict:
    """Add to the generated document what the server does beyond its handlers' signatures."""
    _add_body_limits(document, routes)
    _refuse_empty_queries(document)
    _add_idempotency_key(document)
    return document


class _CompletedOpenAPIPlugin(OpenAPIPlugin):
    __slots__ = ()

    def provide_openapi_schema(self) -> dict[str, Any]:
        if not self._openapi_schema:
            self._openapi_schema = complete(self.provide_openapi().to_schema(), list(self.included_routes.values()))
        return self._openapi_schema


def use_completed_document(app: Litestar) -> None:
    """Serve the completed document. Litestar builds its OpenAPI plugin itself and offers no hook
    after the build, so the app's own plugin is given the completing subclass (built lazily, on the
    first request for the document, as before)."""
    app.plugins.get(OpenAPIPlugin).__class__ = _CompletedOpenAPIPlugin
