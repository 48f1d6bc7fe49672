"""Notifications across a kill -9: a server takes changes while the mail server and the agencies'
endpoints are down (their notifications committed, tried, waiting to be retried), is killed, and a
new server on the same database delivers each of them exactly once when the receivers are back;
what was delivered before the outage is not sent again."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter

from sqlalchemy import func, select, update

from coordinator import webhooks
from coordinator.models import Notification, User
from tests.notification_receivers import MailServer, WebhookReceiver, free_port

AGENCIES = ("police", "social_work", "health")
WAIT = 60.0  # seconds: a safety net only (a row claimed when the server died waits out its claim)


async def _statuses(sessionmaker) -> Counter:
    async with sessionmaker() as session:
        return Counter(dict((await session.execute(
            select(Notification.status, func.count()).group_by(Notification.status))).all()))


async def _until(sessionmaker, done) -> Counter:  # noqa: ANN001
    async with asyncio.timeout(WAIT):
        while not done(statuses := await _statuses(sessionmaker)):
            await asyncio.sleep(0.2)
    return statuses


async def test_each_notification_is_delivered_once_across_a_kill_and_receivers_down(
        servers, people_on, scenario, sessionmaker, registry):
    receiver = WebhookReceiver()  # not listening until after the kill: its agencies' systems are down
    async with sessionmaker() as session:
        await session.execute(update(User).values(email=User.username + "@agency.example"))
        for agency in AGENCIES:
            endpoint = await webhooks.add_endpoint(session, registry.keys, agency, receiver.url(f"/{agency}"))
            receiver.secrets[f"/{agency}"] = endpoint.secret
        await session.commit()
    mail_port = free_port()
    env = {"COORDINATOR_SMTP_URL": f"smtp://127.0.0.1:{mail_port}", "COORDINATOR_NOTIFY_SECONDS": "1",
           "COORDINATOR_NOTIFY_RETRY_SECONDS": "1", "COORDINATOR_NOTIFY_ATTEMPTS": "30",
           "COORDINATOR_NOTIFY_TIMEOUT_SECONDS": "2",
           "COORDINATOR_PUBLIC_URL": "https://ccc.example"}
    url = f"/api/conferences/{scenario.conference_id}/actions"

    async def add_actions(chair, count: int, start: int) -> None:
        for number in range(start, start + count):
            added = await chair.api("POST", url, {"case_id": scenario.case_a, "agency": AGENCIES[number % 3],
                                                  "title": f"crash-test action {number}", "domain": "victim",
                                                  "due_on": "2027-01-15"})
            assert added.status_code == 200, added.text

    server = servers(env=env)
    (chair,) = await people_on(server, "chair")
    with MailServer(mail_port) as before:  # the mail server up: the first action's e-mails go out
        await add_actions(chair, 1, 0)
        await _until(sessionmaker, lambda s: s["sent"] == 2)  # pc and outsider (police) by e-mail
    sent_before = {mail.message_id for mail in before.received}
    await add_actions(chair, 12, 1)  # the mail server down now too
    await _until(sessionmaker, lambda s: s["waiting"] > 0)
    os.kill(server.pid, signal.SIGKILL)
    server.process.wait()
    async with sessionmaker() as session:
        tried = (await session.execute(select(func.count()).where(Notification.attempts > 0,
                                                                  Notification.status == "waiting"))).scalar()
        never_tried = (await session.execute(select(func.count()).where(Notification.attempts == 0))).scalar()

    with MailServer(mail_port) as after, receiver:
        servers(env=env)
        statuses = await _until(sessionmaker, lambda s: set(s) == {"sent"})
    async with sessionmaker() as session:
        rows = (await session.execute(select(Notification))).scalars().all()
    received = [mail.message_id for mail in after.received] + [d.message_id for d in receiver.received]
    # Exactly once: every waiting row delivered by the new server, none twice, none of the earlier again.
    assert Counter(received).most_common(1)[0][1] == 1
    assert len(received) + len(sent_before) == len(rows) == statuses["sent"]
    assert not sent_before & set(received)
    assert receiver.refused == 0 and {d.path for d in receiver.received} == {f"/{a}" for a in AGENCIES}
    events = len({row.event_key for row in rows})
    retried = sum(1 for row in rows if row.attempts > 1)
    print(f"events {events}, notifications {len(rows)}, delivered {statuses['sent']}, retried {retried}, "
          f"failed {statuses['failed']}; at the kill: {tried} tried and waiting, {never_tried} never tried")
    assert events == 13 and retried > 0 and statuses["failed"] == 0
