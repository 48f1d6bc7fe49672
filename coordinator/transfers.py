"""Transfer of a case to another MARAC (she moved away): one signed bundle out, one case in.

With her consent on the case (or an approved override in force, the recorded basis for sending
without it), a coordinator exports the case: its record, people and key dates, the earlier
references, the consents and the history summary, with where it comes from, when and by whom.
The bundle is JSON holding the payload as text and an Ed25519 signature over exactly that text
(detached: the payload is not re-encoded to check it), with the signer's public key. Each
deployment makes its key pair on first use; the receiving one accepts only keys listed in
COORDINATOR_TRANSFER_TRUSTED, so a foreign or changed bundle is refused with the reason. The
sending case closes as "transferred"; the receiving deployment creates a new case from the bundle,
once per bundle (a unique index), and both ends audit it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, case_links, cases, minutes_files, policy
from coordinator.errors import Conflict, Invalid, NotFound, Unavailable
from coordinator.lifecycle import closure
from coordinator.limits import Id, Line, Text, WrittenLine
from coordinator.models import (
    Case,
    CasePerson,
    CaseRevision,
    Consent,
    ConsentScope,
    KeyDate,
    Override,
    Transfer,
    TransferKey,
    User,
    utcnow,
)
from coordinator.policy import Actor

FORMAT = "coordinator-transfer/1"
# The case's own record as the bundle carries it (the receiving deployment sets the rest).
CASE_FIELDS = ("kind", "risk_level", "checklist_score", "judgement_level", "judgement_reasons",
               "incidents_last_12_months", "referral_grounds", "summary", "concern", "reported_by",
               "report_place", "immediate_danger")
DATE_FIELDS = ("last_referral_on", "last_incident_on")
SUMMARY_TEMPLATE = "transfer_summary.html"
# A bundle travels in one request, under the server's cap on a request's body (web.edge.MAX_BODY_BYTES).
BUNDLE_MAX = 900_000


@dataclass
class ExportIn:
    """Where the case goes and on what basis: her consent on the case, or an approved override in force."""

    to: WrittenLine(200, "name the MARAC the case is transferred to")
    consent_id: Id | None = None
    override_id: Id | None = None


@dataclass
class BundleIn:
    """A transfer bundle as exported: the payload text, its signature and the signer's key (base64)."""

    format: Line(100)
    payload: Text(BUNDLE_MAX)
    signature: Line(200)
    key: Line(200)


# --- keys --------------------------------------------------------------------------------------

def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


async def own_key(session: AsyncSession) -> Ed25519PrivateKey:
    """This deployment's signing key, made on first use (the unique public key settles a race)."""
    held = (await session.execute(select(TransferKey.private_key).order_by(TransferKey.id).limit(1))).scalar()
    if held is not None:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(held))
    key = Ed25519PrivateKey.generate()
    session.add(TransferKey(private_key=_b64(key.private_bytes_raw()), public_key=_b64(key.public_key().public_bytes_raw())))
    await session.flush()
    return key


async def public_key(session: AsyncSession) -> str:
    """This deployment's public key, base64, as the receiving deployments list it."""
    return _b64((await own_key(session)).public_key().public_bytes_raw())


def trusted_senders(entries: tuple[str, ...]) -> dict[str, str]:
    """``NAME=KEY`` entries (the setting, checked when it is read) as {public key: the sending MARAC's name}."""
    return {key.strip(): name.strip() for name, _, key in (entry.partition("=") for entry in entries)}


# --- export ------------------------------------------------------------------------------------

async def _basis(session: AsyncSession, case: Case, data: ExportIn, now: dt.datetime) -> str:
    """Her consent on the case, or an approved override in force on it: what the transfer rests on."""
    if (data.consent_id is None) == (data.override_id is None):
        raise Invalid("give the basis of the transfer: her consent, or an approved override in force",
                      field="consent_id")
    if data.consent_id is not None:
        consent = await session.get(Consent, data.consent_id)
        if consent is None or consent.case_id != case.id:
            raise Invalid(f"no consent {data.consent_id} on case {case.reference}", field="consent_id")
        if consent.expires_at is not None and consent.expires_at <= now:
            raise Invalid(f"consent {consent.id} has expired: record her consent again", field="consent_id")
        in_force = (await session.execute(select(ConsentScope.id).where(
            ConsentScope.consent_id == consent.id, ConsentScope.withdrawn_at.is_(None)).limit(1))).scalar()
        if in_force is None:
            raise Invalid(f"she withdrew consent {consent.id}: record her consent to the transfer", field="consent_id")
        return f"consent:{consent.id}"
    override = await session.get(Override, data.override_id)
    if override is None or override.case_id != case.id or override.status != "approved" or override.expires_at <= now:
        raise Invalid(f"no approved override in force with id {data.override_id} on case {case.reference}",
                      field="override_id")
    return f"override:{override.id}:{override.legal_basis}"


async def _earlier_references(session: AsyncSession, actor: Actor, case: Case) -> list[str]:
    linked = await case_links.linked_cases(session, actor, case.id)
    return [case.reference, *(c.reference for c in linked if c.reference and not c.later)]


async def _consents(session: AsyncSession, case_id: int) -> list[dict]:
    held = (await session.execute(select(Consent).where(Consent.case_id == case_id).order_by(Consent.id))).scalars()
    return [{"purpose": c.purpose, "method": c.method, "given_by": c.given_by, "given_at": c.given_at.isoformat(),
             "expires_at": c.expires_at.isoformat() if c.expires_at else None} for c in held]


async def _history(session: AsyncSession, case: Case) -> list[dict]:
    """Its opening and every change of its record since, with when and why."""
    rows = (await session.execute(select(CaseRevision.at, CaseRevision.kind, CaseRevision.reason)
                                  .where(CaseRevision.case_id == case.id).order_by(CaseRevision.version))).all()
    opened = {"at": case.created_at.isoformat(), "kind": "opened", "reason": f"referred as case {case.reference}"}
    return [opened, *({"at": row.at.isoformat(), "kind": row.kind, "reason": row.reason} for row in rows)]


def summary_pdf(payload: dict) -> str | None:
    """The coordinator's PDF summary of the bundle (base64), or None where the PDF libraries are missing:
    the bundle goes without it. Takes a moment of CPU: call it off the event loop."""
    templates = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
                            autoescape=select_autoescape())
    try:
        return _b64(minutes_files.pdf(templates.get_template(SUMMARY_TEMPLATE).render(bundle=payload)))
    except Unavailable:
        return None


def sign(payload: dict, key: Ed25519PrivateKey) -> dict:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return {"format": FORMAT, "payload": text, "signature": _b64(key.sign(text.encode())),
            "key": _b64(key.public_key().public_bytes_raw())}


async def export_case(session: AsyncSession, actor: Actor, case_id: int, data: ExportIn, deployment: str,
                      today: dt.date) -> dict:
    """The signed bundle of the case; the case closes as transferred (both audited)."""
    policy.require_transferrer(actor)
    case = await cases.case_for(session, actor, case_id)
    policy.require_open(case)
    now = utcnow()
    basis = await _basis(session, case, data, now)
    sender = await session.get(User, actor.id)
    payload = {
        "bundle_id": uuid.uuid4().hex, "from": deployment, "to": data.to.strip(), "sent_at": now.isoformat(),
        "sent_by": f"{sender.display_name} ({sender.username})", "basis": basis,
        "earlier_references": await _earlier_references(session, actor, case),
        "case": {**{name: getattr(case, name) for name in CASE_FIELDS},
                 **{name: getattr(case, name) and getattr(case, name).isoformat() for name in DATE_FIELDS},
                 "created_at": case.created_at.isoformat()},
        "people": [{"role": p.role, "name": p.name, "born_on": p.born_on and p.born_on.isoformat(),
                    "target_kind": p.target_kind} for p in case.people],
        "key_dates": [{"kind": k.kind, "on": k.on.isoformat(), "note": k.note} for k in case.key_dates],
        "consents": await _consents(session, case.id), "history": await _history(session, case),
    }
    payload["summary_pdf"] = await asyncio.to_thread(summary_pdf, payload)
    bundle = sign(payload, await own_key(session))
    session.add(Transfer(bundle_id=payload["bundle_id"], direction="out", case_id=case.id, deployment=payload["to"],
                         sent_at=now, sent_by=payload["sent_by"], basis=basis,
                         earlier_references=json.dumps(payload["earlier_references"]), by_id=actor.id))
    await audit.record(session, actor, "case.transferred_out", case_id=case.id,
                       subject=f"transfer:{payload['bundle_id']}", basis=basis.split(":", 1)[0])
    await closure.close_as_transferred(session, actor, case, payload["to"], today)
    return bundle


# --- import ------------------------------------------------------------------------------------

def verified_payload(bundle: BundleIn, trusted: dict[str, str]) -> tuple[dict, str]:
    """The payload of a bundle signed by a trusted MARAC, and that MARAC's name; else 400 with why."""
    if bundle.format != FORMAT:
        raise Invalid(f"this is not a case transfer bundle ({FORMAT})", field="format")
    if bundle.key not in trusted:
        raise Invalid("the bundle is signed by a MARAC not trusted here: its key is not in "
                      "COORDINATOR_TRANSFER_TRUSTED", field="key")
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(bundle.key)).verify(
            base64.b64decode(bundle.signature, validate=True), bundle.payload.encode())
    except (InvalidSignature, ValueError, binascii.Error):
        raise Invalid("the bundle was changed after it was signed: its signature does not match its contents",
                      field="signature") from None
    try:
        payload = json.loads(bundle.payload)
    except ValueError:
        raise Invalid("the bundle's contents are not JSON", field="payload") from None
    return payload, trusted[bundle.key]


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _case_from(payload: dict, actor: Actor) -> Case:
    record = payload["case"]
    if record["kind"] not in cases.CASE_KINDS:
        raise Invalid(f"this deployment holds no {record['kind']!r} cases", field="payload")
    return Case(
        reference=f"new-{payload['bundle_id'][:16]}", created_by_id=actor.id,
        **{name: record[name] for name in CASE_FIELDS}, **{name: _date(record[name]) for name in DATE_FIELDS},
        people=[CasePerson(role=p["role"], name=p["name"], born_on=_date(p["born_on"]), target_kind=p["target_kind"])
                for p in payload["people"]],
        key_dates=[KeyDate(kind=k["kind"], on=_date(k["on"]), note=k["note"]) for k in payload["key_dates"]],
    )


async def _imported_as(session: AsyncSession, bundle_id: str) -> Conflict | None:
    reference = (await session.execute(select(Case.reference).join(Transfer, Transfer.case_id == Case.id).where(
        Transfer.bundle_id == bundle_id, Transfer.direction == "in"))).scalar()
    return reference and Conflict(f"this bundle was imported already, as case {reference}", field="bundle_id")


async def import_bundle(session: AsyncSession, actor: Actor, bundle: BundleIn, trusted: dict[str, str],
                        today: dt.date) -> Case:
    """A new case from a trusted bundle, with its provenance; a bundle imported before is refused (409)."""
    policy.require_transferrer(actor)
    payload, sender = verified_payload(bundle, trusted)
    try:
        bundle_id = str(payload["bundle_id"])[:64]
        if refusal := await _imported_as(session, bundle_id):
            raise refusal
        case = _case_from(payload, actor)
        received = Transfer(bundle_id=bundle_id, direction="in", deployment=sender,
                            sent_at=dt.datetime.fromisoformat(payload["sent_at"]), sent_by=str(payload["sent_by"])[:200],
                            basis=str(payload["basis"]), earlier_references=json.dumps(payload["earlier_references"]),
                            consents=json.dumps(payload["consents"]), history=json.dumps(payload["history"]),
                            summary_pdf=payload.get("summary_pdf") and str(payload["summary_pdf"]), by_id=actor.id)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise Invalid("the bundle's contents are not those of a case transfer", field="payload") from None
    try:
        async with session.begin_nested():
            session.add(case)
            await session.flush()
            received.case_id = case.id
            session.add(received)
            await session.flush()
    except IntegrityError:  # imported meanwhile by someone else (uq_transfers_bundle), or a value out of bounds
        raise (await _imported_as(session, bundle_id)
               or Invalid("the bundle's contents are not those of a case transfer", field="payload")) from None
    case.reference = f"C-{today.year}-{case.id:04d}"
    await audit.record(session, actor, "case.transferred_in", case_id=case.id, subject=f"transfer:{bundle_id}",
                       basis=received.basis.split(":", 1)[0])
    return case


async def case_id_of(session: AsyncSession, reference: str) -> int:
    found = (await session.execute(select(Case.id).where(Case.reference == reference))).scalar()
    if found is None:
        raise NotFound(f"no case {reference}")
    return found


async def provenance(session: AsyncSession, case_id: int) -> Transfer | None:
    """Where an imported case came from (None for a case opened here)."""
    return (await session.execute(select(Transfer).where(Transfer.case_id == case_id, Transfer.direction == "in")
                                  )).scalar()


def bundle_from_text(raw: bytes | str) -> BundleIn:
    """A bundle file as read from an upload or a path; 400 when it is not one."""
    try:
        data = json.loads(raw)
        return BundleIn(**{name: str(data[name]) for name in ("format", "payload", "signature", "key")})
    except (ValueError, KeyError, TypeError):
        raise Invalid("the file is not a case transfer bundle: export one at the sending MARAC", field="bundle") from None


async def transfer_bases(session: AsyncSession, case_id: int, now: dt.datetime) -> tuple[list[Consent], list[Override]]:
    """What a transfer of the case may rest on: her consents in force, and the approved overrides in force."""
    held = (await session.execute(select(Consent).where(Consent.case_id == case_id).order_by(Consent.id))).scalars()
    consents = [c for c in held if c.expires_at is None or c.expires_at > now]
    overrides = list((await session.execute(select(Override).where(
        Override.case_id == case_id, Override.status == "approved", Override.expires_at > now)
        .order_by(Override.id))).scalars())
    return consents, overrides


async def received_summary(session: AsyncSession, actor: Actor, case_id: int) -> bytes:
    """The sending coordinator's PDF summary that came with an imported case (a coordinator's reading, audited)."""
    policy.require_transferrer(actor)
    case = await cases.case_for(session, actor, case_id)
    received = await provenance(session, case.id)
    if received is None or not received.summary_pdf:
        raise NotFound(f"case {case.reference} came with no PDF summary")
    await audit.record(session, actor, "case.transfer_summary_read", case_id=case.id,
                       subject=f"transfer:{received.bundle_id}")
    return base64.b64decode(received.summary_pdf)
