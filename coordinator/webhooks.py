"""Agencies' webhook endpoints: where an agency's own system is told of what concerns it.

An administrator adds one from the command line (``coordinator webhooks add AGENCY URL``) and
gives its secret, shown once, to the agency's system, which checks each message's signature
(Standard Webhooks). Removing one stops delivery to it at once, waiting messages included.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Collection
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit
from coordinator.delivery import DeliveryFailed, send_webhook
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.models import WebhookEndpoint, utcnow
from coordinator.policy import SYSTEM

MAX_URL = 2000


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def add_endpoint(session: AsyncSession, agencies: Collection[str], agency: str, url: str) -> WebhookEndpoint:
    """A new endpoint of ``agency`` at ``url`` (http or https), with a fresh secret."""
    if agency not in agencies:
        raise Invalid(f"no agency {agency!r} is installed (installed: {', '.join(sorted(agencies))})", field="agency")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        raise Invalid(f"the endpoint must be an http or https address of at most {MAX_URL} characters", field="url")
    endpoint = WebhookEndpoint(agency=agency, url=url, secret=new_secret())
    session.add(endpoint)
    await session.flush()
    await audit.record(session, SYSTEM, "webhook.added", subject=f"webhook:{endpoint.id}", agency=agency)
    return endpoint


async def endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    return list((await session.execute(select(WebhookEndpoint).where(WebhookEndpoint.removed_at.is_(None))
                                       .order_by(WebhookEndpoint.agency, WebhookEndpoint.id))).scalars())


async def _endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    if endpoint.removed_at is not None:
        raise Conflict(f"webhook endpoint {endpoint_id} was removed on {endpoint.removed_at:%Y-%m-%d}")
    return endpoint


async def remove_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await _endpoint(session, endpoint_id)
    endpoint.removed_at = utcnow()
    await audit.record(session, SYSTEM, "webhook.removed", subject=f"webhook:{endpoint.id}", agency=endpoint.agency)
    return endpoint


async def test_endpoint(session: AsyncSession, endpoint_id: int) -> str:
    """Send a signed test message now; what happened, in words."""
    endpoint = await _endpoint(session, endpoint_id)
    body = json.dumps({"type": "test", "timestamp": utcnow().isoformat(), "data": {"agency": endpoint.agency}})
    try:
        await send_webhook(endpoint, f"test-{secrets.token_hex(8)}", body)
    except DeliveryFailed as exc:
        raise Conflict(f"the test message was not taken: {exc}") from None
    return f"endpoint {endpoint.id} ({endpoint.url}) took the signed test message"
