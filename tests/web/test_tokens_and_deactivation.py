"""API tokens expire and can be revoked; deactivating a user ends their sessions and refuses
their tokens. The commands run as an administrator would run them."""

import datetime as dt

from sqlalchemy import update

from coordinator import accounts, events
from coordinator.models import ApiToken
from tests.unit.test_cli_and_storage import run_cli
from tests.web.support import published_events, session_rows


async def new_token(sessionmaker, username: str) -> str:
    async with sessionmaker() as db:
        token = await accounts.create_token(db, await accounts.user_by_username(db, username))
        await db.commit()
    return token


def me(client, token: str):
    return client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


async def test_an_expired_token_is_refused_with_a_message(client_for, people, sessionmaker):
    token = await new_token(sessionmaker, "chair")
    client = await client_for()
    assert (await me(client, token)).status_code == 200
    async with sessionmaker() as db:
        await db.execute(update(ApiToken).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        await db.commit()
    refused = await me(client, token)
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


async def test_tokens_expire_after_the_days_asked_for_and_are_listed_and_revoked_by_command(
    database_url, client_for, people
):
    token = run_cli(database_url, "tokens", "create", "--username", "chair", "--days", "7").stdout.strip()
    listed = run_cli(database_url, "tokens", "list", "chair")
    assert listed.returncode == 0, listed.stderr
    token_id, status, *_ = listed.stdout.split("\t")
    expires = dt.date.fromisoformat(listed.stdout.split("expires ")[1][:10])
    assert status == "active" and expires == dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)
    client = await client_for()
    assert (await me(client, token)).status_code == 200

    revoked = run_cli(database_url, "tokens", "revoke", token_id)
    assert revoked.returncode == 0 and f"token {token_id} revoked" in revoked.stdout
    refused = await me(client, token)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert "\trevoked\t" in run_cli(database_url, "tokens", "list", "chair").stdout


def test_token_commands_refuse_bad_input_with_a_message(database_url):
    run_cli(database_url, "users", "create", "--username", "ana", "--agency", "police", "--role", "member")
    for args, message in [
        (("tokens", "create", "--username", "ana", "--days", "0"), "days must be 1 to"),
        (("tokens", "revoke", "99"), "no API token 99"),
        (("tokens", "revoke", str(2**40)), f"no API token {2**40}"),  # beyond any id column
        (("tokens", "list", "nobody"), "no user named 'nobody'"),
        (("users", "deactivate", "nobody"), "no user named 'nobody'"),
    ]:
        result = run_cli(database_url, *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


async def test_deactivating_a_user_ends_their_sessions_and_refuses_their_token(
    database_url, client_for, people, sessionmaker
):
    token = await new_token(sessionmaker, "pc")
    browser = await client_for("pc")
    colleague = await client_for("sw")
    result = run_cli(database_url, "users", "deactivate", "pc")
    assert result.returncode == 0, result.stderr
    assert [row.user_id for row in await session_rows(sessionmaker)] == [people["social_work"].id]
    assert (await browser.get("/api/me")).status_code == 401
    refused = await me(browser, token)
    assert refused.status_code == 401 and "no longer active" in refused.json()["detail"]
    assert (await colleague.get("/api/me")).status_code == 200
    assert (await browser.login("pc")).status_code == 401


async def test_deactivation_announces_the_end_of_every_session_of_the_user(people, sessionmaker):
    announced = published_events(sessionmaker)
    async with sessionmaker() as db:
        await accounts.deactivate_user(db, "pc")
        await db.commit()
    assert announced == [events.SessionsEnded(user_id=people["police"].id)]
