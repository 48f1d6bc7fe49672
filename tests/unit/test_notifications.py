"""Notifications outside the app, through the services and a real SMTP server and webhook receiver:
every kind of event reaches e-mail and the agency's signed webhook with no case text in it, one
message per event and recipient, retried with backoff while the receiver is down and failed after
the limit, withheld from someone who may no longer see the case, and gathered in a daily digest."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest
from sqlalchemy import select, update

from coordinator import accounts, cases, consents, delivery, notifications, overrides, tasks, webhooks
from coordinator.accounts import actor_of
from coordinator.conference import meeting, research
from coordinator.conference.meeting import VersionIn
from coordinator.delivery import Deliverer, Tally
from coordinator.lifecycle import closure, monitor
from coordinator.models import Conference, Notification, Task, User, utcnow
from coordinator.notifications import KINDS
from coordinator.web import observe
from tests.conference_scenario import (
    ARREARS,
    CALL_OUTS,
    CASE_C_NOTE,
    CASE_C_SUMMARY,
    INJURIES,
    PASSWORD,
    build_conference,
)
from tests.notification_receivers import MailServer, WebhookReceiver

MARKER = "MARKER-do-not-send"
# Case text the scenario writes, and words the test adds to every change it makes.
CASE_TEXT = (MARKER, ARREARS, CALL_OUTS, CASE_C_NOTE, CASE_C_SUMMARY, INJURIES, "Nora", "Ella", "Ana", "Cara")


@pytest.fixture
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
async def scenario(sessionmaker, registry):
    scenario = await build_conference(sessionmaker, registry, start=False)
    async with sessionmaker() as session:
        await session.execute(update(User).values(email=User.username + "@agency.example"))
        boss = await accounts.create_user(session, username="boss", agency="police", role="supervisor",
                                          password=PASSWORD, agencies=registry.keys)
        boss.email = "boss@agency.example"
        await session.commit()
    scenario.users["boss"] = boss.id
    return scenario


async def endpoint_for(sessionmaker, registry, receiver: WebhookReceiver, agency: str) -> int:
    async with sessionmaker() as session:
        endpoint = await webhooks.add_endpoint(session, registry.keys, agency, receiver.url(f"/{agency}"))
        await session.commit()
    receiver.secrets[f"/{agency}"] = endpoint.secret
    return endpoint.id


def deliverer(sessionmaker, settings, mail: MailServer) -> Deliverer:
    return Deliverer(sessionmaker, dataclasses.replace(settings, smtp_url=mail.url, notify_retry_seconds=60,
                                                       notify_attempts=3, public_url="https://ccc.example"))


async def actor(sessionmaker, user_id: int):
    async with sessionmaker() as session:
        return actor_of(await session.get(User, user_id))


async def every_kind_of_event(sessionmaker, registry, scenario, sender: Deliverer) -> None:
    """One change of each kind, each carrying the marker where it takes text (research reminders
    come from the deliverer's passes a day before the deadline and after it)."""
    chair, pc, boss = [await actor(sessionmaker, scenario.users[name]) for name in ("chair", "pc", "boss")]
    today = utcnow().date()
    async with sessionmaker() as session:
        await research.circulate_agenda(session, registry, chair, scenario.conference_id)
        await consents.grant_consent(session, registry, chair, scenario.case_c, consents.ConsentIn(
            purpose="the referral to health care", method="written", given_by="Nora",
            categories=["police.call_outs"], recipients=["health"]))
        await cases.add_agency(session, registry, chair, scenario.case_c, "health")
        due_at = (await session.get(Conference, scenario.conference_id)).research_due_at
        await session.commit()
    await sender.run_once(due_at - dt.timedelta(hours=12))
    await sender.run_once(max(due_at, utcnow()) + dt.timedelta(hours=1))
    async with sessionmaker() as session:
        task = await tasks.give_task(session, registry, chair, scenario.case_a, tasks.TaskIn(
            agency="police", title=f"Visit {MARKER}", domain="victim", due_on=today - dt.timedelta(days=2)))
        await session.commit()
    async with sessionmaker() as session:
        await monitor.run_once(sessionmaker, registry, today, 14)
        requested = await overrides.request_override(session, registry, pc, scenario.case_c, overrides.OverrideIn(
            legal_basis="risk_to_life", justification=MARKER, categories=["police.call_outs"],
            recipients=["health"], expires_at=utcnow() + dt.timedelta(days=2)))
        await session.commit()
    async with sessionmaker() as session:
        await overrides.decide_override(session, boss, scenario.case_c, requested.id,
                                        overrides.OverrideDecisionIn("refuse", MARKER))
        open_tasks = (await session.execute(select(Task.id).where(
            Task.case_id == scenario.case_b, Task.status.not_in(tasks.CLOSED_STATUSES),
            Task.source != "standing"))).scalars().all()
        asked = await closure.request_closure(session, registry, chair, scenario.case_b, closure.ClosureIn(
            criterion="relocated", closing_on=today, reasons=MARKER,
            tasks=[closure.TaskReviewIn(task_id, "not_applicable", MARKER) for task_id in open_tasks]), today)
        await session.commit()
    async with sessionmaker() as session:
        await closure.decide_closure(session, boss, scenario.case_b, asked.id, closure.DecisionIn(False, MARKER))
        await meeting.start_conference(session, registry, chair, scenario.conference_id, VersionIn(version=1))
        await session.commit()
    async with sessionmaker() as session:
        version = (await session.get(Conference, scenario.conference_id)).version
        await meeting.end_conference(session, registry, chair, scenario.conference_id, VersionIn(version=version))
        await session.commit()
    assert task.id


async def test_every_kind_reaches_mail_and_signed_webhooks_with_no_case_text(
        sessionmaker, registry, settings, scenario, mail, receiver):
    for agency in ("police", "social_work", "health"):
        await endpoint_for(sessionmaker, registry, receiver, agency)
    sender = deliverer(sessionmaker, settings, mail)
    await every_kind_of_event(sessionmaker, registry, scenario, sender)
    await sender.run_once()

    kinds_mailed = {subject.split(":")[0] for subject in (m.subject for m in mail.received)}
    assert kinds_mailed == set(KINDS.values())
    kinds_posted = {d.body.split('"type": "')[1].split('"')[0] for d in receiver.received}
    assert kinds_posted == set(KINDS)
    messages = [m.text for m in mail.received] + [d.body for d in receiver.received]
    leaked = [(text, message) for message in messages for text in CASE_TEXT if text in message]
    assert leaked == []
    assert all("https://ccc.example/" in message for message in messages)
    assert receiver.refused == 0
    async with sessionmaker() as session:
        rows = (await session.execute(select(Notification))).scalars().all()
    assert {row.status for row in rows} == {"sent"}
    assert len(mail.received) + len(receiver.received) == len(rows)
    # The person who made a change is not told of it; the one it concerns is.
    referral_mail = {tuple(m.to) for m in mail.received if m.subject.startswith(KINDS["referral"])}
    assert ("chair@agency.example",) not in referral_mail and ("doc@agency.example",) in referral_mail


async def test_one_message_per_event_and_recipient_however_often_it_is_noticed(sessionmaker, registry, scenario, mail,
                                                                               settings):
    notice = notifications.case_notice("action_overdue", "task:1:overdue:2026-12-01", scenario.case_a, "C-2026-0001")
    for _ in range(2):
        async with sessionmaker() as session:
            await notifications.notify(session, notice, agencies=["police"])
            await session.commit()
    await deliverer(sessionmaker, settings, mail).run_once()
    police = {"pc@agency.example", "outsider@agency.example", "boss@agency.example"}
    assert sorted(to for m in mail.received for to in m.to) == sorted(police)


async def test_a_receiver_that_is_down_is_retried_with_backoff_then_failed(sessionmaker, registry, settings,
                                                                          scenario, mail, receiver):
    endpoint = await endpoint_for(sessionmaker, registry, receiver, "health")
    sender = deliverer(sessionmaker, settings, mail)
    async with sessionmaker() as session:
        await notifications.notify(session, notifications.case_notice(
            "referral", "referral:test", scenario.case_a, "C-2026-0001"), agencies=["health"])
        await session.commit()
    receiver.down = True
    now = utcnow()
    first = await sender.run_once(now)
    assert (first.sent, first.retried) == (3, 1)  # health's three people by e-mail; the endpoint is down

    async def row():
        async with sessionmaker() as session:
            return (await session.execute(select(Notification).where(Notification.endpoint_id == endpoint))).scalar()

    waits = [(await row()).next_attempt_at - now]
    assert (await sender.run_once(now + dt.timedelta(seconds=59))).retried == 0  # not before its time
    second = await sender.run_once(now + dt.timedelta(seconds=61))
    waits.append((await row()).next_attempt_at - now - dt.timedelta(seconds=61))
    assert second.retried == 1 and waits == [dt.timedelta(seconds=60), dt.timedelta(seconds=120)]
    third = await sender.run_once(now + dt.timedelta(seconds=200))
    failed = await row()
    assert third.failed == 1 and failed.status == "failed" and "503" in failed.last_error
    assert receiver.received == [] and failed.attempts == 3

    receiver.down = False  # a failed notification stays failed: an administrator sees it
    assert (await sender.run_once(now + dt.timedelta(days=1))).sent == 0


async def test_nothing_is_sent_to_someone_who_may_no_longer_see_the_case(sessionmaker, registry, settings, scenario,
                                                                         mail, receiver):
    await endpoint_for(sessionmaker, registry, receiver, "health")
    await endpoint_for(sessionmaker, registry, receiver, "police")
    async with sessionmaker() as session:
        await notifications.notify(session, notifications.case_notice(
            "action_assigned", "task:9:assigned", scenario.case_c, "C-2026-0003"),
            users=[scenario.users["doc"], scenario.users["pc"], scenario.users["outsider"]])
        # Health was never on case C: its people and its endpoint are refused at delivery. The
        # outsider left police (deactivated) after the notice was written.
        await session.execute(update(User).where(User.id == scenario.users["outsider"]).values(active=False))
        await session.commit()
    tally = await deliverer(sessionmaker, settings, mail).run_once()
    assert [m.to for m in mail.received] == [["pc@agency.example"]]
    assert [d.path for d in receiver.received] == ["/police"]
    assert tally.withheld == 3  # doc's e-mail, health's endpoint, the outsider's e-mail


async def test_a_daily_digest_gathers_a_persons_messages_into_one_at_the_digest_hour(
        sessionmaker, registry, settings, scenario, mail):
    async with sessionmaker() as session:
        await session.execute(update(User).where(User.id == scenario.users["pc"]).values(notify_daily=True))
        for number in (1, 2):
            await notifications.notify(session, notifications.case_notice(
                "action_assigned", f"task:{number}:assigned", scenario.case_a, "C-2026-0001"),
                users=[scenario.users["pc"]])
        await session.commit()
    sender = deliverer(sessionmaker, settings, mail)
    zone = settings.zone
    before = dt.datetime.now(zone).replace(hour=settings.digest_hour, minute=0) + dt.timedelta(days=1)
    assert (await sender.run_once()).held == 2 and mail.received == []
    assert (await sender.run_once(before.astimezone(dt.UTC) - dt.timedelta(minutes=1))).sent == 0
    assert (await sender.run_once(before.astimezone(dt.UTC))).sent == 2
    assert len(mail.received) == 1 and "(2)" in mail.received[0].subject
    assert mail.received[0].body.count("C-2026-0001") == 2


def test_each_delivery_pass_is_counted_in_the_metrics_with_the_outbox_depth():
    metrics = observe.Metrics()
    metrics.delivery_pass(Tally(sent=3, retried=1, failed=1), 5)
    metrics.delivery_pass(Tally(sent=2), 2)
    scraped = generate_latest(metrics.registry).decode()
    assert 'coordinator_notifications_total{outcome="sent"} 5.0' in scraped
    assert 'coordinator_notifications_total{outcome="retried"} 1.0' in scraped
    assert "coordinator_notification_outbox_depth 2.0" in scraped


async def test_a_notification_two_processes_saw_waiting_is_claimed_by_one_only(sessionmaker, scenario):
    async with sessionmaker() as session:
        await notifications.notify(session, notifications.case_notice(
            "action_assigned", "task:1:assigned", scenario.case_a, "C-2026-0001"), users=[scenario.users["pc"]])
        await session.commit()
    async with sessionmaker() as session:
        row = (await session.execute(select(Notification))).scalar()
    seen = SimpleNamespace(id=row.id, next_attempt_at=row.next_attempt_at)  # as both processes read it
    until = utcnow() + dt.timedelta(seconds=30)
    claimed = []
    for _ in ("one process", "the other"):
        async with sessionmaker() as session:
            claimed.append(await delivery._claim(session, seen, until))
            await session.commit()
    assert claimed == [True, False]
