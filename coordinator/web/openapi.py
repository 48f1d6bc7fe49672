"""The OpenAPI document, completed where Litestar's generator falls short of what the server
does: the ``Idempotency-Key`` header on every create."""

from __future__ import annotations

from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.openapi.spec import OpenAPI, OpenAPIType, Parameter, Schema

from coordinator.web import idempotency

IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key", param_in="header", required=False, description=idempotency.DESCRIPTION,
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=200, pattern=idempotency.VALID_KEY.pattern))


def complete(openapi: OpenAPI) -> OpenAPI:
    """Add to the generated document what the server does beyond its handlers' signatures."""
    for path, item in (openapi.paths or {}).items():
        if item.post is not None and idempotency.applies_to("POST", path):
            item.post.parameters = [*(item.post.parameters or []), IDEMPOTENCY_KEY]
    return openapi


class _CompletedOpenAPIPlugin(OpenAPIPlugin):
    __slots__ = ()

    def _build_openapi(self) -> OpenAPI:
        return complete(super()._build_openapi())


def use_completed_document(app: Litestar) -> None:
    """Serve the completed document. Litestar builds its OpenAPI plugin itself and offers no hook
    after the build, so the app's own plugin is given the completing subclass (built lazily, on the
    first request for the document, as before)."""
    app.plugins.get(OpenAPIPlugin).__class__ = _CompletedOpenAPIPlugin
