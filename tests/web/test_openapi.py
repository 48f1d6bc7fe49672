"""The OpenAPI document matches the server: every route is in it (nothing passes the fuzzing
below by hiding), and generated requests from it, as a coordinator and as a member, get no
server error and no answer the document does not describe."""

from __future__ import annotations

import asyncio
import os
import re

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from litestar.routes import HTTPRoute
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coordinator import accounts
from coordinator.app import create_app
from coordinator.models import User

UNDOCUMENTED = re.compile(r"^/(health|ready)$|^/static/|^/schema")  # the document itself is /schema
# Bounded: CI runs this on each database; a longer local run: COORDINATOR_FUZZ_EXAMPLES=200.
EXAMPLES = int(os.environ.get("COORDINATOR_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


async def test_every_route_but_health_static_and_the_socket_is_in_the_schema(app, client_for, people):
    client = await client_for("chair")
    documented = (await client.get("/schema/openapi.json")).json()["paths"]
    missing = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or UNDOCUMENTED.search(route.path):  # the websocket is no HTTPRoute
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in documented.get(route.path_format, {}):
                missing.append(f"{method} {route.path_format}")
    assert not missing
    assert "/health" not in documented and not any(p.startswith("/static") for p in documented)


def _examples(operation, token: str, counted: list[int]):
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=operation.as_strategy())
    def run(case) -> None:
        counted.append(1)
        case.call_and_validate(headers={"authorization": f"Bearer {token}"}, checks=CHECKS, allow_redirects=False)
    return run


def _fuzz(schema, tokens: dict[str, str]) -> tuple[int, int, list[str]]:
    """Every operation, with each token; the failures found, by operation (no shrinking: the
    first failing example is reported as it was)."""
    operations, counted, failures = 0, [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for who, token in tokens.items():
            try:
                _examples(operation, token, counted)()
            except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 (each is collected, then reported)
                failures.append(f"{operation.label} as {who}: {str(failure)[:1500]}")
    return operations, len(counted), failures


async def test_the_whole_api_fuzzed_from_its_schema(settings, registry, sessionmaker, scenario):
    tokens = {}
    async with sessionmaker() as db:
        for who in ("chair", "pc"):
            user = (await db.execute(User.__table__.select().where(User.username == who))).first()
            tokens[who] = await accounts.create_token(db, await db.get(User, user.id))
        await db.commit()
    app = create_app(settings, registry)
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app,
                                            headers={"authorization": f"Bearer {tokens['pc']}"})
    # The app runs in the fuzzer's own event loop and thread, so this loop stays free meanwhile.
    operations, examples, failures = await asyncio.to_thread(_fuzz, schema, tokens)
    print(f"fuzzed {operations} operations with {examples} examples: {len(failures)} failing")
    assert operations > 40
    assert not failures, "\n\n".join(failures)
