"""A passkey authenticator in software, for the server-side tests: it answers the server's options as
a browser with a security key would (P-256, "none" attestation), and can be made to answer wrongly."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

USER_PRESENT, ATTESTED = 0x01, 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftAuthenticator:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.sign_count = 0

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}).encode()

    def _authenticator_data(self, rp_id: str, flags: int, attested: bytes = b"") -> bytes:
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + self.sign_count.to_bytes(4, "big") + attested

    def create(self, options: dict) -> str:
        """The answer to navigator.credentials.create, as the page sends it."""
        numbers = self.key.public_key().public_numbers()
        cose_key = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        attested = bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id + cose_key
        data = self._authenticator_data(options["rp"]["id"], USER_PRESENT | ATTESTED, attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": data})
        return json.dumps({"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                           "clientExtensionResults": {}, "response": {
                               "clientDataJSON": b64(self._client_data("webauthn.create", options["challenge"])),
                               "attestationObject": b64(attestation), "transports": ["usb"]}})

    def get(self, options: dict, *, challenge: str | None = None, count: bool = True) -> str:
        """The answer to navigator.credentials.get: signed over ``challenge`` (the options' own by
        default), with the counter moved on unless ``count`` is False (a copied key's answer)."""
        self.sign_count += 1 if count else 0
        client_data = self._client_data("webauthn.get", challenge or options["challenge"])
        data = self._authenticator_data(options["rpId"], USER_PRESENT)
        signature = self.key.sign(data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps({"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                           "clientExtensionResults": {}, "response": {
                               "clientDataJSON": b64(client_data), "authenticatorData": b64(data),
                               "signature": b64(signature)}})
