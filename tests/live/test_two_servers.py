"""Several server processes share one conference through a channels backend (Redis, or
PostgreSQL LISTEN/NOTIFY): a change made through one reaches a page open on the other.
These run on PostgreSQL, where the channels service answers (CI's PostgreSQL run has both)."""

import asyncio
import os
import socket
import uuid
from urllib.parse import urlsplit

import pytest

from tests.conference_scenario import CALL_OUTS

REDIS_URL = os.environ.get("COORDINATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_CHANNELS_URL = os.environ.get("COORDINATOR_TEST_PG_CHANNELS_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def answering(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False


def unavailable(why: str) -> None:
    """In CI the services are part of the run: their absence fails it, never skips silently."""
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


# Several processes share one PostgreSQL database; SQLite is one server process (a second is refused).
two_processes = pytest.mark.skipif(
    not os.environ.get("COORDINATOR_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="several server processes share only a PostgreSQL database (the PostgreSQL run covers these)")


async def change_on_one_reaches_the_other(servers, people_on, scenario, channels_url: str) -> None:
    shared = {"channels_url": channels_url, "channels_prefix": f"test{uuid.uuid4().hex[:10]}"}
    first, second = servers(**shared), servers(**shared)
    (chair,) = await people_on(first, "chair")
    (sw,) = await people_on(second, "sw")
    sw_page = await sw.open_page(scenario.conference_id)
    assert CALL_OUTS in sw_page.part("case")  # consent: police's call-outs, filtered on the second server

    chair_page = await chair.open_page(scenario.conference_id)  # presence crosses servers too
    await sw_page.wait_for(lambda page: page.presence("Chair") == "present")
    await chair_page.wait_for(lambda page: page.presence("Sw") == "present")

    url = f"/api/conferences/{scenario.conference_id}"
    assigned = await chair.api("POST", f"{url}/roles", {"case_id": scenario.case_a, "responsibility": "child_protection",
                                                        "agency": "social_work", "version": 0})
    assert assigned.status_code == 200, assigned.text
    await sw_page.wait_for(
        lambda page: "Social work <span" in page.part("roles").split('id="role-child_protection"')[1].split("</tr>")[0])

    await sw_page.close()
    await chair_page.wait_for(lambda page: page.presence("Sw") == "away")


@two_processes
async def test_two_servers_share_a_conference_over_redis(servers, people_on, scenario):
    if not answering(REDIS_URL):
        unavailable(f"Redis does not answer at {REDIS_URL}")
    await change_on_one_reaches_the_other(servers, people_on, scenario, REDIS_URL)


@two_processes
async def test_two_servers_share_a_conference_over_postgresql(servers, people_on, scenario):
    if not answering(PG_CHANNELS_URL):
        unavailable(f"PostgreSQL does not answer at {PG_CHANNELS_URL}")
    await change_on_one_reaches_the_other(servers, people_on, scenario, PG_CHANNELS_URL)


async def test_after_a_server_restart_pages_get_the_current_state(servers, people_on, scenario):
    server = servers()
    chair, pc = await people_on(server, "chair", "pc")
    pc_page = await pc.open_page(scenario.conference_id)
    server.stop()  # the server restarts in the middle of the meeting
    await asyncio.wait_for(pc_page.socket.wait_closed(), 20)
    assert pc_page.socket.close_code == 1012  # "service restart": htmx reconnects on its own

    restarted = servers()
    (chair,) = await people_on(restarted, "chair")
    await chair.api("POST", f"/api/conferences/{scenario.conference_id}/notes", {
        "case_id": scenario.case_a, "kind": "note", "text": "Noted while police was reconnecting"})
    pc.server = restarted  # the same person (same session cookie) reconnects to the new process
    back = await pc.open_page(scenario.conference_id)
    assert "Noted while police was reconnecting" in back.part("notes")
    assert back.presence("Pc") == "present"
    chair_page = await chair.open_page(scenario.conference_id)
    await back.close()  # the connection the old process held was counted out when it stopped
    await chair_page.wait_for(lambda page: page.presence("Pc") == "away")
