"""Single sign-on with an agency's OpenID Connect provider (Authlib): the authorization code flow
with PKCE, a state and a nonce; the ID token's signature, issuer, audience, expiry and nonce are
checked before any of its claims is read.

The account is the one whose username is the value of the claim the deployment chose (her e-mail
address, say), and must belong to that provider's agency: a provider speaks for its own staff only.
Someone it vouches for without an account here waits for an administrator, unless the deployment
lets newcomers in as members: an account is never made with more rights than that."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, audit, policy
from coordinator.errors import NotFound
from coordinator.models import SignInRequest, User
from coordinator.policy import SYSTEM, Actor
from coordinator.settings import SignOnProvider

SCOPE = "openid email profile"
HTTP_TIMEOUT = 10  # seconds, for each call to the provider
STARTED_LIFETIME = 600  # seconds from leaving for the provider to coming back
LEEWAY = 60  # seconds of clock difference allowed on the ID token's times


class SignOnRefused(Exception):
    """The sign-in did not give an account: ``message`` says why, to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignOnWaiting(SignOnRefused):
    """She is known to her agency but has no account here yet: an administrator is asked."""


@dataclass(frozen=True)
class Started:
    """What the browser carries (signed) to the provider and back: the login it belongs to."""

    agency: str
    state: str
    nonce: str
    verifier: str
    next: str
    at: float


def _same(given: str, expected: str) -> bool:
    """Compared in constant time; as bytes, so that any text a browser sends compares (and differs)."""
    return hmac.compare_digest(given.encode(errors="surrogateescape"), expected.encode())


def _signature(body: str, secret: str) -> str:
    return hmac.new(secret.encode(), body.encode(errors="surrogateescape"), hashlib.sha256).hexdigest()


def seal(started: Started, secret: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps(started.__dict__).encode()).decode()
    return f"{body}.{_signature(body, secret)}"


def unseal(sealed: str | None, secret: str) -> Started | None:
    """The login started in this browser, if the value is one this server signed and still fresh."""
    body, _, signature = (sealed or "").partition(".")
    if not _same(signature, _signature(body, secret)):
        return None
    started = Started(**json.loads(base64.urlsafe_b64decode(body)))  # signed here: as it was written
    return started if time.time() - started.at < STARTED_LIFETIME else None


def _client(provider: SignOnProvider, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(client_id=provider.client_id, client_secret=provider.client_secret, scope=SCOPE,
                             redirect_uri=redirect_uri, code_challenge_method="S256", timeout=HTTP_TIMEOUT)


async def discover(provider: SignOnProvider) -> dict:
    """The provider's own description of its endpoints; it must name itself as the issuer."""
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            answer = await http.get(f"{provider.issuer}/.well-known/openid-configuration")
            answer.raise_for_status()
            metadata = answer.json()
    except (httpx.HTTPError, ValueError):
        raise SignOnRefused("Your agency's sign-in service cannot be reached: try again later, or log in "
                            "with your password.") from None
    if not isinstance(metadata, dict) or metadata.get("issuer") != provider.issuer:
        raise SignOnRefused("Your agency's sign-in service is not set up as this server expects: tell an administrator.")
    return metadata


async def start(provider: SignOnProvider, redirect_uri: str, next_page: str) -> tuple[str, Started]:
    """Where to send the browser, and what it must bring back."""
    metadata = await discover(provider)
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
    async with _client(provider, redirect_uri) as client:
        url, state = client.create_authorization_url(metadata["authorization_endpoint"], nonce=nonce,
                                                     code_verifier=verifier)
    return url, Started(agency=provider.agency, state=state, nonce=nonce, verifier=verifier, next=next_page,
                        at=time.time())


@dataclass(frozen=True)
class Identity:
    value: str | None  # of the matching claim
    name: str | None
    id_token: str


async def finish(provider: SignOnProvider, started: Started, *, state: str | None, code: str | None,
                 redirect_uri: str) -> Identity:
    """Exchange the code for tokens and check the ID token; who the provider says she is."""
    if started.agency != provider.agency or not state or not _same(state, started.state):
        raise SignOnRefused("This sign-in was not started here, or has expired: start again.")
    if not code:
        raise SignOnRefused("Your agency's sign-in service did not let you in.")
    metadata = await discover(provider)
    try:
        async with _client(provider, redirect_uri) as client:
            token = await client.fetch_token(metadata["token_endpoint"], code=code, code_verifier=started.verifier)
            keys = JsonWebKey.import_key_set((await client.get(metadata["jwks_uri"])).json())
            claims = jwt.decode(token.get("id_token", ""), keys, claims_cls=CodeIDToken,
                                claims_options={"iss": {"essential": True, "value": provider.issuer}},
                                claims_params={"nonce": started.nonce, "client_id": provider.client_id})
            claims.validate(leeway=LEEWAY)  # expiry, audience, issuer and the nonce
            if provider.claim not in claims and metadata.get("userinfo_endpoint"):
                # Many providers give the profile's claims from userinfo only; they are hers if the subject is.
                info = (await client.get(metadata["userinfo_endpoint"])).json()
                if info.get("sub") == claims["sub"]:
                    claims = {**info, **claims}
    except (AuthlibBaseError, httpx.HTTPError, ValueError, KeyError, TypeError):
        raise SignOnRefused("Your agency's sign-in could not be checked: start again.") from None
    value, name = claims.get(provider.claim), claims.get("name")
    return Identity(value=value if isinstance(value, str) else None, name=name if isinstance(name, str) else None,
                    id_token=token["id_token"])


async def end_session_url(provider: SignOnProvider, id_token: str | None, back: str) -> str | None:
    """Where her session at the provider ends (returning to ``back``), if the provider offers it."""
    try:
        endpoint = (await discover(provider)).get("end_session_endpoint")
    except SignOnRefused:
        return None
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
        return None
    query = {"client_id": provider.client_id, "post_logout_redirect_uri": back}
    if id_token:
        query["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


def _usable(value: str | None) -> bool:
    return bool(value) and len(value) <= 80 and value.isprintable()


async def account_for(session: AsyncSession, provider: SignOnProvider, identity: Identity, *,
                      password_min_length: int) -> User:
    """Her account, found by the claim's value; a newcomer waits (or becomes a member where the
    deployment says so). Raises SignOnRefused or SignOnWaiting, audited."""
    claim, agency = provider.claim, provider.agency
    if not _usable(identity.value):
        await audit.record(session, SYSTEM, "sign_on.refused", agency=agency, reason="claim")
        raise SignOnRefused(f"Your agency's sign-in did not say who you are (no usable {claim!r}): tell an administrator.")
    user = (await session.execute(select(User).where(User.username == identity.value))).scalar()
    if user is not None and not (policy.may_sign_on_through(user.agency, agency) and user.active):
        # Another agency's account, or an administrator's: its own provider or password logs it in.
        await audit.record(session, SYSTEM, "sign_on.refused", subject=f"user:{user.id}", agency=agency,
                           reason="agency" if user.active else "inactive")
        raise SignOnRefused("This account cannot sign in through this agency: log in with your password, "
                            "or ask an administrator.")
    if user is None and provider.newcomers == "member":
        user = await accounts.create_user(
            session, username=identity.value, agency=agency, role="member", password=secrets.token_urlsafe(32),
            display_name=(identity.name or identity.value)[:200], agencies=[agency], password_min_length=password_min_length)
    if user is None:
        await _ask_for_account(session, agency, identity)
        raise SignOnWaiting("Your agency knows you, but you have no account here yet: an administrator has been "
                            "asked to let you in. Sign in again once they have.")
    await audit.record(session, accounts.actor_of(user), "login.succeeded", subject=f"user:{user.id}", via="sign_on")
    return user


async def _ask_for_account(session: AsyncSession, agency: str, identity: Identity) -> None:
    waiting = (await session.execute(select(SignInRequest.id).where(
        SignInRequest.agency == agency, SignInRequest.username == identity.value))).first()
    if waiting is None:
        session.add(SignInRequest(agency=agency, username=identity.value,
                                  display_name=(identity.name or identity.value)[:200]))
        await audit.record(session, SYSTEM, "sign_on.waiting", agency=agency)


async def requests_for(session: AsyncSession, actor: Actor, coordinators_manage: bool) -> list[SignInRequest]:
    """The people waiting whom the actor may let in (as members of their agency)."""
    waiting = (await session.execute(select(SignInRequest).order_by(SignInRequest.created_at))).scalars()
    return [r for r in waiting if policy.may_grant(actor, "member", r.agency, coordinators_manage)]


async def _request(session: AsyncSession, actor: Actor, request_id: int, coordinators_manage: bool) -> SignInRequest:
    policy.require_user_manager(actor, coordinators_manage)
    found = await session.get(SignInRequest, request_id) if 0 < request_id < 2**31 else None
    if found is None or not policy.may_grant(actor, "member", found.agency, coordinators_manage):
        raise NotFound(f"no sign-in request {request_id}", field="request_id")
    return found


async def approve(session: AsyncSession, actor: Actor, request_id: int, *, coordinators_manage: bool,
                  password_min_length: int) -> User:
    """Let her in: a member's account of her agency (a role above that is a change made afterwards)."""
    waiting = await _request(session, actor, request_id, coordinators_manage)
    user = await accounts.create_user(
        session, username=waiting.username, agency=waiting.agency, role="member", password=secrets.token_urlsafe(32),
        display_name=waiting.display_name, agencies=[waiting.agency], by=actor, password_min_length=password_min_length)
    await session.delete(waiting)
    await audit.record(session, actor, "sign_on.approved", subject=f"user:{user.id}")
    return user


async def dismiss(session: AsyncSession, actor: Actor, request_id: int, *, coordinators_manage: bool) -> None:
    waiting = await _request(session, actor, request_id, coordinators_manage)
    await session.execute(delete(SignInRequest).where(SignInRequest.id == waiting.id))
    await audit.record(session, actor, "sign_on.dismissed", agency=waiting.agency)
