"""A real server's metrics and log: the live pages it holds and its fan-out, scraped from
/metrics, and a log made of JSON lines only."""

import asyncio
import json
import urllib.request

from tests.conference_scenario import CALL_OUTS


def scrape(server) -> dict[str, float]:
    with urllib.request.urlopen(server.base_url + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


async def scraped_until(server, name: str, value: float, bound: float = 20.0) -> None:
    """Wait (at most ``bound`` seconds) until the metric shows ``value``: a page that closes is
    noticed by the server a moment later."""
    async with asyncio.timeout(bound):
        while scrape(server)[name] != value:
            await asyncio.sleep(0.05)


async def test_metrics_show_the_open_live_pages_and_the_fan_out_and_the_log_is_json_lines(
        servers, people_on, scenario):
    server = servers()
    chair, pc, sw = await people_on(server, "chair", "pc", "sw")
    pages = [await person.open_page(scenario.conference_id) for person in (pc, sw)]
    for page in pages:
        assert CALL_OUTS in page.part("case")
    assert scrape(server)["coordinator_live_pages"] == 2
    before = scrape(server)["coordinator_live_fanout_seconds_count"]
    noted = await chair.api("POST", f"/api/conferences/{scenario.conference_id}/notes", {
        "case_id": scenario.case_a, "kind": "decision", "text": "Refer to the refuge"})
    assert noted.status_code == 200, noted.text
    for page in pages:
        await page.wait_until("notes", "Refer to the refuge")
    assert scrape(server)["coordinator_live_fanout_seconds_count"] > before
    await pages[0].close()
    await scraped_until(server, "coordinator_live_pages", 1)

    banner, *lines = [line for line in server.log().splitlines() if line.strip()]
    assert banner.startswith("Case Conference Coordinator on ")  # the one line printed before logging starts
    records = [json.loads(line) for line in lines]  # every log line is one JSON object
    notes = [r for r in records if r.get("route") == "/api/conferences/{conference_id}/notes"]
    assert [(r["method"], r["status"]) for r in notes] == [("POST", 200)] and notes[0]["request_id"]
    assert any(r["logger"].startswith("uvicorn") for r in records)
