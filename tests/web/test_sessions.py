"""Login sessions: ids only the server issues, fresh at login, no rows for anonymous visitors,
expired rows swept, logout ending the session for open pages too, Secure cookies on request."""

import datetime as dt
from dataclasses import replace

from sqlalchemy import update

from coordinator import events
from coordinator.app import create_app
from coordinator.models import WebSession
from coordinator.settings import Settings
from coordinator.web.sessions import DatabaseSessionStore
from tests.conftest import PASSWORD, Client
from tests.web.support import published_events, session_rows

CHOSEN = "ab" * 32  # looks exactly like an id the server would issue


async def test_login_never_adopts_a_session_id_the_client_chose(client_for, people, sessionmaker):
    client = await client_for()
    await client.get("/login")
    client.cookies.set("session", CHOSEN, domain="testserver.local")  # planted just before logging in
    logged_in = await client.post("/login", data={"username": "pc", "password": PASSWORD})
    assert logged_in.status_code == 200
    rows = await session_rows(sessionmaker)
    assert [row.key for row in rows] == [client.cookies["session"]] and CHOSEN not in client.cookies["session"]
    assert rows[0].user_id == people["police"].id


async def test_logging_in_again_issues_a_new_session_id_and_the_old_one_is_worthless(client_for, people, sessionmaker):
    client = await client_for("pc")
    first = client.cookies["session"]
    assert (await client.login("pc")).status_code == 200
    second = client.cookies["session"]
    assert second != first
    assert [row.key for row in await session_rows(sessionmaker)] == [second]
    replay = await client_for()
    replay.cookies.set("session", first, domain="testserver.local")
    assert (await replay.get("/api/me")).status_code == 401


async def test_anonymous_requests_store_no_session(client_for, people, sessionmaker):
    client = await client_for()
    for path in ("/health", "/login", "/static/app.css", "/", "/api/me", "/no-such-page"):
        await client.get(path)
    assert (await client.login("pc", "wrong password!")).status_code == 401
    assert await session_rows(sessionmaker) == []
    assert "session" not in client.cookies


async def test_a_forged_or_malformed_session_cookie_is_refused_with_a_message(client_for, people, sessionmaker):
    for value in (CHOSEN, "x" * 5000, "../../etc", "null"):
        client = await client_for()
        client.cookies.set("session", value, domain="testserver.local")
        api = await client.get("/api/me")
        assert api.status_code == 401 and api.json()["detail"] == "log in first"
        page = await client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert await session_rows(sessionmaker) == []


async def test_expired_sessions_are_swept_at_the_next_login(client_for, people, sessionmaker):
    await client_for("pc")  # walks away and never comes back
    async with sessionmaker() as db:
        await db.execute(update(WebSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        await db.commit()
    other = await client_for("sw")
    assert [row.key for row in await session_rows(sessionmaker)] == [other.cookies["session"]]


async def test_logout_deletes_the_session_and_announces_it_to_open_pages(app, client_for, people, sessionmaker):
    client = await client_for("pc")
    key = client.cookies["session"]
    announced = published_events(app.state.sessionmaker)
    await client.post("/logout")
    assert await session_rows(sessionmaker) == []
    assert events.SessionsEnded(user_id=people["police"].id, session_key=key) in announced
    replay = await client_for()
    replay.cookies.set("session", key, domain="testserver.local")
    assert (await replay.get("/api/me")).status_code == 401


async def test_a_request_still_in_flight_cannot_bring_back_an_ended_session(client_for, people, sessionmaker):
    client = await client_for("pc")
    store = DatabaseSessionStore(sessionmaker)
    key = client.cookies["session"]
    data = await store.get(key)
    await store.delete(key)  # logged out in another tab meanwhile
    await store.set(key, data + b" ", expires_in=600)  # the slower request saves its session
    assert await session_rows(sessionmaker) == []


async def cookies_set_while_logging_in(client: Client) -> list[str]:
    login_page = await client.get("/login")
    logged_in = await client.login("pc")
    assert logged_in.status_code == 200
    return [*login_page.headers.get_list("set-cookie"),
            *(header for answer in logged_in.history for header in answer.headers.get_list("set-cookie"))]


async def test_session_and_csrf_cookies_are_secure_when_configured(settings, registry, people):
    assert Settings.from_env({"COORDINATOR_SECURE_COOKIES": "1"}).secure_cookies
    app = create_app(replace(settings, secure_cookies=True), registry)
    try:
        async with Client(app) as client:
            client.base_url = "https://testserver.local"  # a Secure cookie only travels over HTTPS
            set_cookies = await cookies_set_while_logging_in(client)
    finally:
        await app.state.engine.dispose()
    assert {cookie.split("=")[0] for cookie in set_cookies} == {"csrftoken", "session"}
    assert all("Secure" in cookie for cookie in set_cookies)


async def test_cookies_are_not_secure_by_default_for_local_development(client_for, people):
    assert not Settings.from_env({}).secure_cookies
    set_cookies = await cookies_set_while_logging_in(await client_for())
    assert set_cookies and not any("Secure" in cookie for cookie in set_cookies)
