"""Single sign-on against a real OpenID Connect provider (npm oidc-provider, run with Node): a known
person signs in with her agency, and her logout ends her session there too; an unknown one waits for
an administrator; an account of another agency, or an answer without the matching claim, is refused;
a callback whose state or nonce is not this browser's is refused."""

import dataclasses
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from coordinator import single_sign_on
from coordinator.models import AuditEntry, SignInRequest, User
from coordinator.settings import Settings, SignOnProvider
from coordinator.single_sign_on import Identity, SignOnWaiting
from coordinator.web.sign_on import STARTED_COOKIE
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, running_provider, through_provider

APP = "http://testserver.local"  # the test client's origin


@pytest.fixture(scope="module")
def issuer():
    with running_provider(f"{APP}/login/sso/police/callback", f"{APP}/login") as issuer:
        yield issuer


@pytest.fixture
def settings(settings, issuer):
    return dataclasses.replace(settings, sign_on=(SignOnProvider(
        agency="police", issuer=issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET),))


@pytest.fixture
async def provider_browser():
    async with httpx.AsyncClient() as http:  # the same browser, as the provider's site sees it
        yield http


async def _leave(client) -> str:
    started = await client.get("/login/sso/police?next=/account", follow_redirects=False)
    assert started.status_code == 303
    return started.headers["location"]


async def _sign_on(client, provider_browser, login: str, *, tamper=None):
    """Sign in at the provider as ``login``; the answer of the page she lands on here."""
    back = await through_provider(provider_browser, await _leave(client), login, stop_at=APP)
    return await client.get(tamper(back) if tamper else back)


async def test_a_known_person_signs_in_with_her_agency_and_her_logout_ends_both_sessions(
        client_for, make_user, provider_browser, sessionmaker):
    await make_user("officer@example.org", "police")
    client = await client_for()
    assert "Sign in with" in (await client.get("/login")).text
    landed = await _sign_on(client, provider_browser, "officer")
    assert landed.status_code == 200 and landed.url.path == "/account"  # the page she asked for
    assert (await client.get("/api/me")).json()["username"] == "officer@example.org"

    out = await client.post("/logout", follow_redirects=False)
    ending = urlsplit(out.headers["location"])
    assert out.status_code == 303 and ending.path == "/session/end"  # the provider's end_session_endpoint
    query = parse_qs(ending.query)
    assert query["post_logout_redirect_uri"] == [f"{APP}/login"] and query["id_token_hint"]
    assert (await client.get("/api/me")).status_code == 401  # ended here at once
    assert await through_provider(provider_browser, out.headers["location"], "", stop_at=APP) == f"{APP}/login"
    # Ended there too: the provider asks who she is again.
    again = await provider_browser.get(await _leave(client), follow_redirects=True)
    assert 'name="login"' in again.text
    async with sessionmaker() as db:
        via = (await db.execute(select(AuditEntry.detail).where(AuditEntry.action == "login.succeeded"))).scalars()
        assert any("sign_on" in str(detail) for detail in via)


async def test_someone_unknown_waits_until_an_administrator_lets_her_in_as_a_member(
        client_for, make_user, provider_browser, people):
    await make_user("root", None, "admin")
    client = await client_for()
    waiting = await _sign_on(client, provider_browser, "newcomer")
    assert waiting.status_code == 403 and "an administrator has been asked" in waiting.text
    assert (await client.get("/api/me")).status_code == 401

    root = await client_for("root")
    page = await root.get("/admin/users")
    assert "newcomer@example.org" in page.text and "Waiting to be let in" in page.text
    assert "newcomer@example.org" not in (await (await client_for("chair")).get("/admin/users")).text  # no manager
    request_id = page.text.split("/admin/sign-in-requests/")[1].split("/")[0]
    assert (await (await client_for("pc")).post(f"/admin/sign-in-requests/{request_id}/approve")).status_code == 403
    approved = await root.post(f"/admin/sign-in-requests/{request_id}/approve")
    assert approved.status_code == 200 and "she can sign in with her agency now" in approved.text

    landed = await _sign_on(client, provider_browser, "newcomer")
    me = (await client.get("/api/me")).json()
    assert landed.status_code == 200 and me["username"] == "newcomer@example.org" and me["role"] == "member"


async def test_another_agencys_account_or_no_matching_claim_is_refused(
        client_for, make_user, provider_browser, sessionmaker):
    await make_user("nurse@example.org", "health")
    client = await client_for()
    other_agency = await _sign_on(client, provider_browser, "nurse")
    assert other_agency.status_code == 403 and "cannot sign in through this agency" in other_agency.text
    async with httpx.AsyncClient() as another_browser:  # the provider gives him no e-mail address
        no_claim = await _sign_on(client, another_browser, "stranger")
    assert no_claim.status_code == 403 and "did not say who you are" in no_claim.text
    assert (await client.get("/api/me")).status_code == 401
    async with sessionmaker() as db:
        assert not (await db.execute(select(SignInRequest))).first()  # neither waits for an account
        assert len((await db.execute(select(AuditEntry).where(AuditEntry.action == "sign_on.refused"))).all()) == 2


async def test_a_callback_with_another_state_or_nonce_is_refused(client_for, make_user, provider_browser, settings):
    await make_user("officer@example.org", "police")
    client = await client_for()
    forged_state = await _sign_on(client, provider_browser, "officer",
                                  tamper=lambda url: url.replace("state=", "state=x"))
    assert forged_state.status_code == 403 and "not started here" in forged_state.text

    def other_nonce(url: str) -> str:  # her cookie re-signed with another nonce: the ID token's no longer matches
        started = single_sign_on.unseal(client.cookies.get(STARTED_COOKIE), settings.secret_key)
        client.cookies.set(STARTED_COOKIE, single_sign_on.seal(dataclasses.replace(started, nonce="another"),
                                                               settings.secret_key),
                           domain="testserver.local", path="/login/sso")
        return url
    forged_nonce = await _sign_on(client, provider_browser, "officer", tamper=other_nonce)
    assert forged_nonce.status_code == 403 and "could not be checked" in forged_nonce.text

    elsewhere = await client_for()  # a browser that never started this sign-in
    back = await through_provider(provider_browser, await _leave(client), "officer", stop_at=APP)
    assert (await elsewhere.get(back)).status_code == 403
    assert (await client.get(back)).status_code == 200 and (await client.get("/api/me")).status_code == 200


async def test_a_deployment_may_let_newcomers_in_as_members(sessionmaker, people):
    provider = SignOnProvider(agency="police", issuer="https://id.example.org", client_id="c", client_secret="s",
                              newcomers="member")
    async with sessionmaker() as db:
        user = await single_sign_on.account_for(db, provider, Identity("new@example.org", "New", "token"),
                                                password_min_length=12)
        assert (user.role, user.agency) == ("member", "police")
        with pytest.raises(SignOnWaiting):
            await single_sign_on.account_for(db, dataclasses.replace(provider, newcomers="wait"),
                                             Identity("other@example.org", None, "token"), password_min_length=12)
        assert (await db.execute(select(User.id).where(User.username == "other@example.org"))).first() is None


def test_each_agencys_provider_is_read_from_its_own_settings():
    prefix = "COORDINATOR_SSO_SOCIAL_WORK_"
    env = {prefix + "ISSUER": "https://id.example.org/", prefix + "CLIENT_ID": "coordinator",
           prefix + "CLIENT_SECRET": "s", prefix + "CLAIM": "preferred_username"}
    assert Settings.from_env(env).sign_on == (SignOnProvider(
        agency="social_work", issuer="https://id.example.org", client_id="coordinator", client_secret="s",
        claim="preferred_username", newcomers="wait"),)
    with pytest.raises(SystemExit, match="NEWCOMERS"):
        Settings.from_env(env | {prefix + "NEWCOMERS": "admin"})  # never more than a member
