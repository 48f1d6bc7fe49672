"""Login throttling per (username, client address): a growing delay for the address that keeps
failing, never a lock on the person; bad input answered with a message, not counted."""

import datetime as dt
import re

from sqlalchemy import func, select, update

from coordinator.models import LoginFailure
from tests.web.support import client_at

GUESSER, OWNER = "203.0.113.7", "198.51.100.20"


def seconds_to_wait(answer) -> int:
    assert answer.status_code == 429, answer.text
    seconds = int(re.search(r"try again in (\d+) seconds", answer.text).group(1))
    assert answer.headers["retry-after"] == str(seconds)
    return seconds


async def time_passes(sessionmaker, seconds: int) -> None:
    """As if ``seconds`` had gone by since the last recorded failure."""
    then = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    async with sessionmaker() as db:
        await db.execute(update(LoginFailure).values(at=then))
        await db.commit()


async def test_a_guessing_address_is_throttled_but_the_owner_still_logs_in_from_hers(app, people, sessionmaker):
    async with client_at(app, GUESSER) as guesser, client_at(app, OWNER) as owner:
        for _ in range(3):  # settings fixture: 3 failures allowed
            assert (await guesser.login("pc", "a wrong guess")).status_code == 401
        seconds_to_wait(await guesser.login("pc"))  # even the right password waits
        assert (await owner.login("pc")).status_code == 200
        assert (await owner.get("/api/me")).json()["username"] == "pc"
    async with sessionmaker() as db:
        addresses = (await db.execute(select(LoginFailure.address, func.count()).group_by(LoginFailure.address))).all()
    assert addresses == [(GUESSER, 3)]  # the owner's login did not lift the guesser's delay


async def test_the_delay_doubles_with_each_further_failure_and_then_lets_the_right_password_in(app, people, sessionmaker):
    async with client_at(app, GUESSER) as client:
        for _ in range(3):
            await client.login("pc", "a wrong guess")
        first = seconds_to_wait(await client.login("pc", "a wrong guess"))
        await time_passes(sessionmaker, first)
        assert (await client.login("pc", "a wrong guess")).status_code == 401  # allowed to try, and wrong
        second = seconds_to_wait(await client.login("pc", "a wrong guess"))
        assert second > first * 1.5
        await time_passes(sessionmaker, second)
        assert (await client.login("pc")).status_code == 200  # a delay, never a lock


async def test_an_over_long_or_nul_username_or_password_is_a_400_with_a_message(client_for, people, sessionmaker):
    client = await client_for()
    for username, password, message in [
        ("x" * 81, "whatever it is", "at most 80 characters"),
        ("pc", "p" * 1025, "at most 1024 characters"),
        ("p\x00c", "whatever it is", "not allowed"),
    ]:
        answer = await client.login(username, password)
        assert answer.status_code == 400 and message in answer.text
    async with sessionmaker() as db:
        assert (await db.execute(select(func.count()).select_from(LoginFailure))).scalar_one() == 0
