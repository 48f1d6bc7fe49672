"""Login, logout, throttling, CSRF, bearer tokens, session expiry, public routes."""

import datetime as dt

from sqlalchemy import select, update

from coordinator import accounts
from coordinator.models import WebSession


async def test_health_and_login_page_are_public(client_for):
    client = await client_for()
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/login")).status_code == 200


async def test_pages_redirect_to_login_and_api_answers_401(client_for):
    client = await client_for()
    page = await client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    api = await client.get("/api/me")
    assert api.status_code == 401 and "detail" in api.json()


async def test_login_shows_dashboard_and_logout_ends_the_session(client_for, people):
    client = await client_for("pc")
    dashboard = await client.get("/")
    assert "Dashboard" in dashboard.text and "Police" in dashboard.text
    assert (await client.get("/api/me")).json()["agency"] == "police"
    await client.post("/logout")
    assert (await client.get("/api/me")).status_code == 401


async def test_wrong_password_is_refused_with_a_message(client_for, people):
    client = await client_for()
    response = await client.login("pc", "wrong password!")
    assert response.status_code == 401 and "Wrong username or password" in response.text


async def test_login_is_throttled_after_repeated_failures_even_with_the_right_password(client_for, people):
    client = await client_for()
    for _ in range(3):  # settings fixture: 3 failures allowed
        assert (await client.login("pc", "nope nope nope")).status_code == 401
    throttled = await client.login("pc")
    assert throttled.status_code == 429 and "Too many failed attempts" in throttled.text
    other = await client.login("sw")  # another account is not locked out
    assert other.status_code == 200


async def test_form_post_without_csrf_token_is_refused(client_for, people):
    client = await client_for("chair")
    response = await client.post("/logout", headers={"x-csrftoken": "forged"})
    assert response.status_code == 403
    assert (await client.get("/api/me")).status_code == 200  # still logged in


async def test_bearer_token_authenticates_the_api_without_csrf(client_for, people, sessionmaker):
    async with sessionmaker() as session:
        token = await accounts.create_token(session, await accounts.user_by_username(session, "chair"))
        await session.commit()
    client = await client_for()
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/me", headers=headers)).json()["username"] == "chair"
    from tests.conftest import REFERRAL
    created = await client.post("/api/cases", json=REFERRAL, headers=headers)
    assert created.status_code == 201
    bad = await client.get("/api/me", headers={"Authorization": "Bearer ccc_not-a-token"})
    assert bad.status_code == 401 and "not valid" in bad.json()["detail"]


async def test_idle_session_expires(client_for, people, sessionmaker):
    client = await client_for("pc")
    async with sessionmaker() as session:  # as if the user walked away past the idle limit
        await session.execute(update(WebSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        await session.commit()
    assert (await client.get("/api/me")).status_code == 401


async def test_pages_carry_a_strict_content_security_policy(client_for):
    client = await client_for()
    policy = (await client.get("/login")).headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


async def test_a_session_in_use_is_kept_alive(client_for, people, sessionmaker):
    client = await client_for("pc")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)
    async with sessionmaker() as session:  # as if the user had been idle for 28 of 30 minutes
        await session.execute(update(WebSession).values(expires_at=soon))
        await session.commit()
    assert (await client.get("/api/me")).status_code == 200
    async with sessionmaker() as session:
        expires_at = (await session.execute(select(WebSession.expires_at))).scalar()
    assert expires_at > soon + dt.timedelta(minutes=20)
