"""The probes: liveness (/health) and readiness (/ready), without login and outside the API schema.

``/health`` says the process lives: always 200, "degraded" while the channels backend is
unreachable (live pages then wait for its return). ``/ready`` is for load balancers: 503 while
the channels backend or the database is unreachable, so new users go to a process that works.
"""

from __future__ import annotations

import asyncio

from litestar import Response, get
from litestar.datastructures import State
from sqlalchemy import text

DATABASE_TIMEOUT = 2.0  # seconds: an unreachable database is "not ready", not a hung probe


def _channels_up(state: State) -> bool:
    return not state.live.channels.down


@get("/health", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def liveness(state: State) -> dict[str, str]:
    if _channels_up(state):
        return {"status": "ok"}
    return {"status": "degraded", "channels": "down"}


async def _database_up(state: State) -> bool:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            async with state.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means: do not send users here
        return False
    return True


@get("/ready", exclude_from_auth=True, include_in_schema=False)
async def readiness(state: State) -> Response[dict[str, str]]:
    parts = {"channels": "up" if _channels_up(state) else "down",
             "database": "up" if await _database_up(state) else "down"}
    ready = all(value == "up" for value in parts.values())
    return Response({"status": "ready" if ready else "not ready", **parts}, status_code=200 if ready else 503)
