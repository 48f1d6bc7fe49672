"""The OpenAPI document, completed where Litestar's generator falls short of what the server
does: the ``Idempotency-Key`` header on every create, and each JSON body's schema with the limits
the server enforces (Litestar leaves out the ``msgspec.Meta`` constraints on dataclass fields, so
the document would call inputs valid that the server refuses)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import types
import typing
from typing import Annotated, Any, Union

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.enums import RequestEncodingType
from litestar.routes import HTTPRoute

from coordinator.lifecycle import strategies
from coordinator.limits import INSTALLED
from coordinator.plugins import CORE_CATEGORIES, AgencyRegistry
from coordinator.web import idempotency
from coordinator.web.forms import FORM, ROWS

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


def installed_choices(registry: AgencyRegistry) -> dict[str, list[str]]:
    """What the installed agencies offer, by the name ``limits.Installed`` marks a field with."""
    return {"agencies": list(registry.keys),
            "categories": [*CORE_CATEGORIES, *(key for agency in registry for key in agency.categories)],
            "responsibilities": [responsibility.key for responsibility in registry.responsibilities],
            "strategies": list(strategies.catalogue(registry).entries)}


def _list_installed(schema: Any, choices: dict[str, list[str]]) -> None:
    """Each field marked as holding an installed agency's choice lists those choices."""
    if isinstance(schema, dict):
        if (what := schema.pop(INSTALLED, None)) is not None:
            schema["enum"] = choices[what]
        for value in schema.values():
            _list_installed(value, choices)
    elif isinstance(schema, list):
        for value in schema:
            _list_installed(value, choices)


def _add_body_limits(document: dict, routes: list[HTTPRoute]) -> None:
    """Each JSON body described by msgspec, the decoder that enforces it: lengths, ranges,
    patterns, choices and required fields as the server holds them."""
    inputs = _json_inputs(routes)
    kinds = sorted(set(inputs.values()), key=lambda kind: f"{kind.__module__}.{kind.__qualname__}")
    schemas, components = msgspec.json.schema_components(kinds, ref_template=COMPONENTS)
    by_type = dict(zip(kinds, schemas, strict=True))
    for kind, schema in by_type.items():
        _mark_moments(kind, schema, components)
    document.setdefault("components", {}).setdefault("schemas", {}).update(components)
    for (path, method), kind in inputs.items():
        operation = document["paths"][path][method]
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": by_type[kind]}}}


def _form_fields(kind: type, rows: dict[str, dict[str, object]]) -> dict:
    """A page form read into ``kind`` by ``web.forms.from_form``: one field per dataclass field,
    each a form value of the field's type. A form leaves out what it does not send, so no field is
    null; a field named by a form is a scalar or a list of them. A field the form sends as rows
    (``rows``: field → the pattern of the rows' names → the type of one value) is described by those
    patterns instead."""
    (reference,), components = msgspec.json.schema_components([kind], ref_template=COMPONENTS)
    schema = components[reference["$ref"].rsplit("/", 1)[1]]
    for name, field in schema["properties"].items():
        options = [option for option in field.get("anyOf", [field]) if option.get("type") != "null"]
        schema["properties"][name] = {**options[0], **{k: v for k, v in field.items() if k not in ("anyOf", "default")}}
    for name, patterns in rows.items():
        del schema["properties"][name]
        schema["required"] = [field for field in schema.get("required", []) if field != name]
        for pattern, value in patterns.items():
            name = pattern.removeprefix("^").removesuffix("$")
            if re.escape(name) == name:  # one field of that name, not a family of them
                schema["properties"][name] = msgspec.json.schema(value)
            else:
                schema.setdefault("patternProperties", {})[pattern] = msgspec.json.schema(value)
    if not schema.get("required"):
        schema.pop("required", None)
    return schema


def _add_form_fields(document: dict, routes: list[HTTPRoute]) -> None:
    """Each page form whose route names the dataclass it is read into (``opt={"form": ...}``)."""
    for route in routes:
        for method, (handler, _) in route.route_handler_map.items():
            if kind := handler.opt.get(FORM):
                schema = _form_fields(kind, handler.opt.get(ROWS, {}))
                document["paths"][route.path_format][method.lower()]["requestBody"] = {
                    "required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


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


def complete(document: dict, routes: list[HTTPRoute], registry: AgencyRegistry) -> dict:
    """Add to the generated document what the server does beyond its handlers' signatures."""
    _add_body_limits(document, routes)
    _add_form_fields(document, routes)
    _without_surrogates(document)
    _list_installed(document, installed_choices(registry))
    _refuse_empty_queries(document)
    _add_idempotency_key(document)
    return document


class _CompletedOpenAPIPlugin(OpenAPIPlugin):
    __slots__ = ()

    def provide_openapi_schema(self) -> dict[str, Any]:
        if not self._openapi_schema:
            self._openapi_schema = complete(self.provide_openapi().to_schema(), list(self.included_routes.values()),
                                            self.app.state.registry)
        return self._openapi_schema


def use_completed_document(app: Litestar) -> None:
    """Serve the completed document. Litestar builds its OpenAPI plugin itself and offers no hook
    after the build, so the app's own plugin is given the completing subclass (built lazily, on the
    first request for the document, as before)."""
    app.plugins.get(OpenAPIPlugin).__class__ = _CompletedOpenAPIPlugin
