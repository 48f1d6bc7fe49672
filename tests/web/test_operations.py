"""What an operator watches: /metrics (Prometheus format, by route template, only to the
configured addresses or with the token) and the JSON-lines log with its request id, which never
carries a case's text, a person's name or an item's words."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace

import httpx
import pytest

from coordinator.app import create_app
from coordinator.web import observe
from tests.conftest import REFERRAL, Client
from tests.sharing_steps import grant_consent, record_item

TEST_CLIENT_LOGGERS = {"httpx", "httpcore"}  # the tests' own HTTP client, not the server
MARKER = "Zqxmarker7731"  # in names, item text and notes; found nowhere else


def outside_client(app, address: str = "203.0.113.9") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                             base_url="http://testserver.local")


def samples(text: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


async def test_metrics_count_requests_by_route_template_and_status_with_their_latency(client_for, people, case):
    chair = await client_for("chair")
    for _ in range(3):
        assert (await chair.get(f"/cases/{case['id']}")).status_code == 200
    assert (await chair.get("/no/such/page")).status_code == 404
    assert (await chair.request("BREW", "/")).status_code == 405  # a client's method: no series of its own
    answer = await chair.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(answer.text)
    page = 'method="GET",route="/cases/{case_id}"'
    assert found[f'coordinator_http_requests_total{{{page},status="200"}}'] == 3
    assert found[f"coordinator_http_request_seconds_count{{{page}}}"] == 3
    assert f'coordinator_http_request_seconds_bucket{{le="0.1",{page}}}' in found
    assert found['coordinator_http_requests_total{method="GET",route="unmatched",status="404"}'] == 1
    assert f"/cases/{case['id']}\"" not in answer.text and "/no/such" not in answer.text  # templates, not paths
    assert 'method="other",route="unmatched",status="405"' in answer.text and "BREW" not in answer.text
    assert found["coordinator_channels_up"] == 1
    assert found["coordinator_db_pool_size"] >= 1 and found["coordinator_db_connections_in_use"] == 0
    assert found["coordinator_live_pages"] == 0 and "coordinator_live_fanout_seconds_count" in found


async def test_metrics_answer_only_the_configured_addresses_or_the_token(settings, registry, people):
    app = create_app(replace(settings, metrics_token="scrape-token-1"), registry)
    try:
        async with outside_client(app) as outside:
            refused = await outside.get("/metrics")
            assert refused.status_code == 403 and "COORDINATOR_METRICS_ADDRESSES" in refused.text
            assert "coordinator_http" not in refused.text
            wrong = await outside.get("/metrics", headers={"authorization": "Bearer scrape-token-2"})
            assert wrong.status_code == 403
            allowed = await outside.get("/metrics", headers={"authorization": "Bearer scrape-token-1"})
            assert allowed.status_code == 200 and "coordinator_http_requests_total" in allowed.text
        async with outside_client(app, "10.1.2.3") as inside:
            assert (await inside.get("/metrics")).status_code == 403  # not configured yet
    finally:
        await app.state.engine.dispose()
    app = create_app(replace(settings, metrics_addresses=("10.0.0.0/8",)), registry)
    try:
        async with outside_client(app, "10.1.2.3") as inside, outside_client(app, "127.0.0.1") as local:
            assert (await inside.get("/metrics")).status_code == 200
            assert (await local.get("/metrics")).status_code == 403  # loopback is only the default
    finally:
        await app.state.engine.dispose()


@pytest.fixture
def log_lines():
    """The server's logging exactly as `coordinator serve` sets it up, written to a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    observe.log_json_lines(stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_each_request_logs_one_json_line_with_its_route_status_and_request_id(client_for, people, case,
                                                                                    log_lines):
    chair = await client_for("chair")
    answer = await chair.get(f"/cases/{case['id']}")
    kept = await chair.get(f"/cases/{case['id']}", headers={"x-request-id": "nginx-4f2a"})
    forged = await chair.get(f"/cases/{case['id']}", headers={"x-request-id": "not an id!"})
    lines = [line for line in log_lines() if line["logger"] == "coordinator.access"]
    mine = [line for line in lines if line["request_id"] == answer.headers["x-request-id"]]
    assert len(mine) == 1
    assert (mine[0]["route"], mine[0]["status"], mine[0]["method"]) == ("/cases/{case_id}", 200, "GET")
    assert mine[0]["ms"] >= 0 and mine[0]["level"] == "info"
    assert kept.headers["x-request-id"] == "nginx-4f2a" and "nginx-4f2a" in {line["request_id"] for line in lines}
    assert forged.headers["x-request-id"] != "not an id!" and len(forged.headers["x-request-id"]) == 32


async def test_no_case_text_name_or_item_reaches_the_log(app, client_for, people, log_lines):
    chair, police, social = await client_for("chair"), await client_for("pc"), await client_for("sw")
    referral = {**REFERRAL, "people": [{"role": "survivor", "name": f"Nora {MARKER}"},
                                       {"role": "subject", "name": f"Mark {MARKER}"}]}
    case = (await chair.post("/api/cases", json=referral)).json()
    await record_item(police, case["id"], "police.call_outs", f"Call-out about {MARKER} at night")
    await grant_consent(chair, case["id"], ["police.call_outs"], ["social_work", "health"], given_by=f"Nora {MARKER}")
    for reader in (chair, police, social):
        assert MARKER in (await reader.get(f"/cases/{case['id']}/items")).text  # the text was shown
    # Refused input and unknown addresses carrying the marker are answered, and not logged as sent.
    assert (await police.post(f"/api/cases/{case['id']}/items", json={
        "category": f"no.{MARKER}", "nature": "fact", "text": MARKER})).status_code == 400
    assert (await police.get(f"/cases/{MARKER}")).status_code == 404
    assert (await police.get(f"/cases/{case['id']}?shown={MARKER}")).status_code in (200, 400)
    async with Client(app) as stranger:
        assert (await stranger.post("/login", data={"username": MARKER, "password": MARKER})).status_code in (
            400, 401, 403)
    lines = [line for line in log_lines() if line["logger"] not in TEST_CLIENT_LOGGERS]
    assert len([line for line in lines if line["logger"] == "coordinator.access"]) >= 10  # the log was captured
    leaked = [line for line in lines if MARKER.lower() in json.dumps(line).lower()]
    assert not leaked
