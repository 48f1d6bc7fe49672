"""Passkeys (WebAuthn, py_webauthn) as the second factor, in place of or beside the authenticator app.

A passkey is asked for after the password, like a code: the password stays the first factor, so the
login page, its throttling and single sign-on are unchanged, and a passkey that was registered on a
shared computer is not enough on its own. Each ceremony answers a challenge the server made for it
and kept in her session; it is spent on the first answer, right or wrong. Refusals count toward
throttling with her wrong passwords and codes (the same counter). The authenticator's signature
counter must grow with each use: a counter seen again is the mark of a copied key, and is refused."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from coordinator import accounts, audit
from coordinator.accounts import LoginRefused, Throttle
from coordinator.errors import Invalid, NotFound
from coordinator.models import Passkey, User, utcnow
from coordinator.policy import Actor

RELYING_PARTY_NAME = "Case Conference Coordinator"
NAME_MAX = 100
CREDENTIAL_MAX = 20_000  # a response's JSON: keys, signature and attestation, with room to spare
REFUSED = "That passkey was not accepted: try again, or use a code from your authenticator app."
# What a malformed or forged response raises on its way through the library (bad base64 is a ValueError).
_BAD_RESPONSE = (WebAuthnException, ValueError, TypeError, KeyError)


@dataclass(frozen=True)
class Party:
    """Whom the passkeys are for: the site's origin, and its host name they are bound to."""

    origin: str

    @property
    def id(self) -> str:
        return urlsplit(self.origin).hostname or ""


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in passkeys]


async def of_user(session: AsyncSession, user_id: int) -> list[Passkey]:
    return list((await session.execute(select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id))).scalars())


def registration_options(user: User, existing: list[Passkey], party: Party) -> tuple[str, bytes]:
    """What the browser's navigator.credentials.create needs (JSON), and the challenge to keep."""
    options = generate_registration_options(
        rp_id=party.id, rp_name=RELYING_PARTY_NAME, user_id=str(user.id).encode(), user_name=user.username,
        user_display_name=user.display_name, exclude_credentials=_descriptors(existing),  # one key, registered once
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED, user_verification=UserVerificationRequirement.PREFERRED))
    return options_to_json(options), options.challenge


async def register(session: AsyncSession, user: User, *, credential: str, name: str, challenge: bytes,
                   party: Party) -> Passkey:
    """Keep the passkey the browser made for ``challenge``, or raise Invalid."""
    name = name.strip() or "Passkey"
    try:
        verified = verify_registration_response(credential=credential, expected_challenge=challenge,
                                                expected_origin=party.origin, expected_rp_id=party.id)
    except _BAD_RESPONSE:
        raise Invalid("The passkey could not be set up: try again from this page.", field="credential") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if (await session.execute(select(Passkey.id).where(Passkey.credential_id == credential_id))).first():
        raise Invalid("This passkey is set up already.", field="credential")
    passkey = Passkey(user_id=user.id, credential_id=credential_id, public_key=verified.credential_public_key,
                      sign_count=verified.sign_count, name=name[:NAME_MAX])
    session.add(passkey)
    await session.flush()
    await audit.record(session, accounts.actor_of(user), "passkey.registered", subject=f"user:{user.id}",
                       passkey_id=passkey.id)
    return passkey


def authentication_options(passkeys: list[Passkey], party: Party) -> tuple[str, bytes]:
    """What navigator.credentials.get needs to ask for one of her passkeys (JSON), and the challenge."""
    options = generate_authentication_options(rp_id=party.id, allow_credentials=_descriptors(passkeys),
                                              user_verification=UserVerificationRequirement.PREFERRED)
    return options_to_json(options), options.challenge


async def _check(session: AsyncSession, user: User, credential: str, challenge: bytes | None, party: Party) -> bool:
    """Whether ``credential`` is her passkey's signature over ``challenge`` with a counter that grew."""
    if challenge is None:
        return False
    try:
        parsed = parse_authentication_credential_json(credential)
    except _BAD_RESPONSE:
        return False
    passkey = (await session.execute(select(Passkey).where(
        Passkey.user_id == user.id, Passkey.credential_id == parsed.id))).scalar()
    if passkey is None:
        return False
    try:
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=party.id, expected_origin=party.origin,
            credential_public_key=passkey.public_key, credential_current_sign_count=passkey.sign_count)
    except _BAD_RESPONSE:
        return False
    # The counter read above, in the same statement as the new one: two uses at once pass once.
    moved = await session.execute(update(Passkey).where(
        Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
        .values(sign_count=verified.new_sign_count, last_used_at=utcnow()))
    return moved.rowcount == 1


async def verify(session: AsyncSession, user: User, credential: str, *, challenge: bytes | None, party: Party,
                 address: str, throttle: Throttle) -> None:
    """Accept her passkey's answer to ``challenge`` or raise LoginRefused; counted and throttled with
    her password failures. Commit whatever happens."""
    await accounts.refuse_if_throttled(session, user.username, address, throttle)
    if not await _check(session, user, credential, challenge, party):
        await accounts.count_failure(session, user.username, address, "second_factor.failed", throttle)
        raise LoginRefused(REFUSED)
    await accounts.forget_failures(session, user.username, address)
    await audit.record(session, accounts.actor_of(user), "second_factor.passed", subject=f"user:{user.id}",
                       means="passkey")


async def remove(session: AsyncSession, actor: Actor, passkey_id: int) -> Passkey:
    """She removes one of her own passkeys (lost, or the device given away)."""
    passkey = await session.get(Passkey, passkey_id) if 0 < passkey_id < 2**31 else None
    if passkey is None or passkey.user_id != actor.id:
        raise NotFound(f"no passkey {passkey_id} of yours", field="passkey_id")
    await session.delete(passkey)
    await audit.record(session, actor, "passkey.removed", subject=f"user:{actor.id}", passkey_id=passkey_id)
    return passkey


async def remove_all(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(Passkey).where(Passkey.user_id == user_id))

