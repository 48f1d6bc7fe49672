"""The deliverer: sends the outbox's notifications after commit, by e-mail and signed webhook.

Each pass takes the waiting rows that are due. Before anything is sent, the recipient is checked
through policy: a person who may no longer see the case (moved agency, deactivated) or an endpoint
of an agency no longer on it gets nothing, and the row is marked withheld. A row is claimed by a
conditional update committed before sending (two processes never send the same row), and marked
sent after; a failure is tried again after ``retry_seconds``, doubling, until ``attempts`` tries,
then it is failed and shown to administrators. A process killed after a commit loses nothing:
waiting rows are in the database. Killed between sending and marking, a claimed row is sent again
once its claim lapses, with the same message id (``webhook-id``, ``Message-ID``) so the receiver
can tell it is the same message. People who chose a daily digest get their e-mails gathered into
one message at ``digest_hour``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import urlsplit

import aiosmtplib
import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from coordinator import policy
from coordinator.models import CaseAgency, Notification, User, WebhookEndpoint, utcnow
from coordinator.notifications import KINDS, research_reminders
from coordinator.settings import Settings

log = logging.getLogger("coordinator.delivery")
BATCH = 200


class DeliveryFailed(Exception):
    """The mail server or the endpoint did not take the message (the reason is kept on the row)."""


@dataclass
class Tally:
    """What one pass did, by outcome."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    withheld: int = 0
    held: int = 0  # kept for a daily digest

    def add(self, other: Tally) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Message:
    """One message: its id (stable across tries), a subject, and the lines it lists."""

    id: str
    subject: str
    lines: list[str] = field(default_factory=list)


def line(row: Notification, public_url: str) -> str:
    return f"{KINDS[row.kind]}: {row.reference} {public_url}{row.link}"


def webhook_body(row: Notification, public_url: str, agency: str) -> str:
    """The Standard Webhooks payload: the event's type, when, and its reference and link only."""
    return json.dumps({"type": row.kind, "timestamp": row.created_at.isoformat(),
                       "data": {"reference": row.reference, "link": f"{public_url}{row.link}", "agency": agency,
                                "description": KINDS[row.kind]}})


async def send_email(settings: Settings, to: str, message: Message) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = settings.smtp_from, to, message.subject
    mail["Message-ID"] = f"<{message.id}@{urlsplit(settings.public_url).hostname or 'coordinator'}>"
    mail.set_content("\n".join([*message.lines, "", "Sign in to see more. You can change what you are sent on "
                                f"your account page: {settings.public_url}/account", ""]))
    if settings.smtp_url == "log":
        log.info("e-mail to %s (%s): %s\n%s", to, mail["Message-ID"], message.subject, mail.get_content())
        return
    url = urlsplit(settings.smtp_url)
    try:
        await aiosmtplib.send(mail, hostname=url.hostname, port=url.port, username=url.username or None,
                              password=url.password or None, use_tls=url.scheme == "smtps",
                              timeout=settings.notify_timeout_seconds)
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"mail server: {type(exc).__name__}: {exc}"[:300]) from exc


async def send_webhook(endpoint: WebhookEndpoint, message_id: str, body: str, timeout: float = 10) -> None:
    """POST ``body`` signed with the endpoint's secret (webhook-id, webhook-timestamp, webhook-signature)."""
    now = dt.datetime.now(dt.UTC)
    headers = {"content-type": "application/json", "webhook-id": message_id,
               "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(endpoint.secret).sign(message_id, now, body)}
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"endpoint: {type(exc).__name__}: {exc}"[:300]) from exc
    if not response.is_success:
        raise DeliveryFailed(f"endpoint answered {response.status_code}")


def digest_slot(now: dt.datetime, settings: Settings) -> tuple[dt.datetime, dt.datetime]:
    """The last digest time at or before ``now`` and the next one after it."""
    local = now.astimezone(settings.zone)
    today = local.replace(hour=settings.digest_hour, minute=0, second=0, microsecond=0)
    last = today if today <= local else today - dt.timedelta(days=1)
    return last.astimezone(dt.UTC), (last + dt.timedelta(days=1)).astimezone(dt.UTC)


async def _may_receive(session: AsyncSession, row: Notification, user: User | None,
                       endpoint: WebhookEndpoint | None) -> bool:
    """Whether the recipient may still see what the notice is about, asked of policy at delivery."""
    if endpoint is not None:
        if endpoint.removed_at is not None:
            return False
        recipient = policy.agency_system(endpoint.agency)
    elif user is not None and user.active:
        recipient = policy.Actor(id=user.id, agency=user.agency, role=user.role)
    else:
        return False
    if row.case_id is None:
        return True
    agencies = (await session.execute(select(CaseAgency.agency).where(CaseAgency.case_id == row.case_id))).scalars()
    return policy.may_be_notified(recipient, list(agencies))


async def _claim(session: AsyncSession, row: Notification, until: dt.datetime) -> bool:
    claimed = await session.execute(
        update(Notification).where(Notification.id == row.id, Notification.status == "waiting",
                                   Notification.next_attempt_at == row.next_attempt_at)
        .values(next_attempt_at=until, attempts=Notification.attempts + 1)
        .execution_options(synchronize_session=False))  # the row keeps the tries counted before this one
    return claimed.rowcount == 1


class Deliverer:
    """Sends what the outbox holds; ``send_email`` and ``send_webhook`` are the channels."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.email: Callable[[Settings, str, Message], Awaitable[None]] = send_email
        self.webhook: Callable[..., Awaitable[None]] = send_webhook
        # A row claimed is this process's for longer than a send may take; killed meanwhile, another
        # process sends it once the claim lapses.
        self.claim = dt.timedelta(seconds=3 * settings.notify_timeout_seconds)

    async def run_once(self, now: dt.datetime | None = None) -> Tally:
        """One pass: research reminders written, then every due row sent, withheld or retried."""
        now = now or utcnow()
        async with self.sessionmaker() as session:
            await research_reminders(session, now)
            await session.commit()
        tally = Tally()
        async with self.sessionmaker() as session:
            rows = (await session.execute(
                select(Notification).where(Notification.status == "waiting", Notification.next_attempt_at <= now)
                .order_by(Notification.id).limit(BATCH))).scalars().all()
            users = {u.id: u for u in (await session.execute(select(User).where(
                User.id.in_({r.user_id for r in rows if r.user_id})))).scalars()}
            endpoints = {e.id: e for e in (await session.execute(select(WebhookEndpoint).where(
                WebhookEndpoint.id.in_({r.endpoint_id for r in rows if r.endpoint_id})))).scalars()}
            batches: dict[tuple, list[Notification]] = {}
            last_digest, next_digest = digest_slot(now, self.settings)
            for row in rows:
                user, endpoint = users.get(row.user_id), endpoints.get(row.endpoint_id)
                if not await _may_receive(session, row, user, endpoint):
                    row.status, row.last_error = "withheld", "the recipient may no longer see the case"
                    tally.withheld += 1
                elif user is not None and user.notify_daily and row.created_at >= last_digest:
                    row.next_attempt_at = next_digest
                    tally.held += 1
                elif await _claim(session, row, now + self.claim):
                    daily = user is not None and user.notify_daily
                    batches.setdefault(("digest", user.id) if daily else ("one", row.id), []).append(row)
            await session.commit()
        for batch in batches.values():
            tally.add(await self._send(batch, users, endpoints, now))
        return tally

    async def _send(self, rows: list[Notification], users: dict[int, User], endpoints: dict[int, WebhookEndpoint],
                    now: dt.datetime) -> Tally:
        first, public_url = rows[0], self.settings.public_url
        message_id = f"notification-{first.id}" if len(rows) == 1 else f"digest-{first.user_id}-{first.id}"
        try:
            if first.channel == "email":
                subject = (f"{KINDS[first.kind]}: {first.reference}" if len(rows) == 1
                           else f"Your daily notifications ({len(rows)})")
                await self.email(self.settings, users[first.user_id].email,
                                 Message(message_id, subject, [line(r, public_url) for r in rows]))
            else:
                endpoint = endpoints[first.endpoint_id]
                await self.webhook(endpoint, message_id, webhook_body(first, public_url, endpoint.agency),
                                   self.settings.notify_timeout_seconds)
        except DeliveryFailed as exc:
            return await self._failed(rows, str(exc), now)
        async with self.sessionmaker() as session:
            await session.execute(update(Notification).where(Notification.id.in_([r.id for r in rows]))
                                  .values(status="sent", sent_at=utcnow(), last_error=None))
            await session.commit()
        return Tally(sent=len(rows))

    async def _failed(self, rows: list[Notification], error: str, now: dt.datetime) -> Tally:
        tally = Tally()
        async with self.sessionmaker() as session:
            for row in rows:
                tries = row.attempts + 1  # counted by the claim
                if tries >= self.settings.notify_attempts:
                    values, tally.failed = {"status": "failed"}, tally.failed + 1
                else:
                    wait = self.settings.notify_retry_seconds * 2 ** (tries - 1)
                    values, tally.retried = {"next_attempt_at": now + dt.timedelta(seconds=wait)}, tally.retried + 1
                await session.execute(update(Notification).where(Notification.id == row.id)
                                      .values(last_error=error, **values))
            await session.commit()
        log.warning("notification delivery failed (%s): %s", ", ".join(str(r.id) for r in rows), error)
        return tally


@dataclass(frozen=True)
class Trouble:
    """A notification that failed, or is being retried: to whom, what, and the last error."""

    notification: Notification
    recipient: str


async def delivery_report(session: AsyncSession, limit: int = 200) -> tuple[dict[str, int], list[Trouble]]:
    """The outbox by status, and the latest notifications that failed or are being retried."""
    counts = dict((await session.execute(
        select(Notification.status, func.count()).group_by(Notification.status))).all())
    rows = (await session.execute(
        select(Notification, User.username, WebhookEndpoint.agency, WebhookEndpoint.url)
        .outerjoin(User, User.id == Notification.user_id)
        .outerjoin(WebhookEndpoint, WebhookEndpoint.id == Notification.endpoint_id)
        .where((Notification.status == "failed")
               | ((Notification.status == "waiting") & Notification.last_error.is_not(None)))
        .order_by(Notification.id.desc()).limit(limit))).all()
    return counts, [Trouble(row, f"{username} (e-mail)" if username else f"{agency} system at {url}")
                    for row, username, agency, url in rows]


async def outbox_depth(session: AsyncSession) -> int:
    """Notifications not yet sent (waiting, whether due or held for a digest)."""
    return (await session.execute(select(func.count()).where(Notification.status == "waiting"))).scalar_one()


async def run_forever(deliverer: Deliverer, period_seconds: float, counted: Callable[[Tally, int], None]) -> None:
    """The deliverer inside the server: a pass at start-up (what a stopped process left), then
    every period; each pass is ``counted`` with the outbox's depth after it."""
    while True:
        try:
            tally = await deliverer.run_once()
            async with deliverer.sessionmaker() as session:
                counted(tally, await outbox_depth(session))
        except Exception:  # the next period tries again; nothing is marked that was not done
            log.exception("the notification pass failed")
        await asyncio.sleep(period_seconds)
