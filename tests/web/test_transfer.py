"""A case transferred between two MARACs, each its own server on its own database: the bundle is
signed by the sender and checked by the receiver (a changed or foreign bundle refused with why), the
new case keeps its provenance, consents and history, the sending case closes as transferred, both
audit chains verify, and a bundle imported twice makes one case."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from coordinator import accounts, audit, db, transfers
from coordinator.app import create_app, sync_plugins_into_database
from coordinator.cli import main
from coordinator.models import AuditEntry, Case
from coordinator.settings import Settings
from tests.conftest import PASSWORD, Client

REFERRAL = {
    "kind": "domestic_abuse", "checklist_score": 16, "agencies": ["police", "social_work"], "lead_agency": "social_work",
    "summary": "She moved to York with the children",
    "people": [{"role": "survivor", "name": "Norah Smith", "born_on": "1990-03-12"},
               {"role": "subject", "name": "Mark Jones"}],
}
CONSENT = {"purpose": "transfer to the MARAC where she now lives", "method": "written", "given_by": "Norah Smith",
           "categories": ["police.call_outs"], "recipients": ["social_work"]}


class Marac:
    """One deployment: its database, its server (the app) and its coordinator's browser."""

    def __init__(self, url: str, settings: Settings, app, sessionmaker) -> None:  # noqa: ANN001
        self.url, self.settings, self.app, self.sessionmaker = url, settings, app, sessionmaker
        self.chair: Client | None = None

    async def audit_actions(self) -> list[str]:
        async with self.sessionmaker() as session:
            return list((await session.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())

    async def audit_intact(self) -> bool:
        async with self.sessionmaker() as session:
            return (await audit.verify(session)).ok

    async def case_count(self) -> int:
        async with self.sessionmaker() as session:
            return (await session.execute(select(func.count()).select_from(Case))).scalar()


@pytest.fixture
async def maracs(migrated_template, tmp_path, registry):
    """Leeds (sending) and York (receiving, trusting Leeds's key), each on a SQLite file of its own."""
    started: list[Marac] = []

    async def start(name: str, trusted: tuple[str, ...] = ()) -> Marac:
        path = tmp_path / f"{name}.db"
        if Path(migrated_template).is_file():
            shutil.copy(migrated_template, path)
        else:  # the PostgreSQL pass: these two stay on SQLite files of their own
            await asyncio.to_thread(db.migrate, f"sqlite+aiosqlite:///{path}")
        url = f"sqlite+aiosqlite:///{path}"
        settings = Settings(database_url=url, secret_key="test-secret-key-0123456789", deployment_name=f"{name} MARAC",
                            transfer_trusted=trusted)
        app = create_app(settings, registry)
        await sync_plugins_into_database(app.state.sessionmaker, registry)
        async with app.state.sessionmaker() as session:
            await accounts.create_user(session, username="chair", agency="social_work", role="coordinator",
                                       password=PASSWORD, display_name="Chair of " + name, agencies=registry.keys)
            await session.commit()
        marac = Marac(url, settings, app, app.state.sessionmaker)
        marac.chair = Client(app)
        assert (await marac.chair.login("chair")).status_code == 200
        started.append(marac)
        return marac

    leeds = await start("Leeds")
    async with leeds.sessionmaker() as session:  # what `coordinator transfer key` prints at Leeds
        trusted = f"Leeds MARAC={await transfers.public_key(session)}"
        await session.commit()
    york = await start("York", (trusted,))
    yield leeds, york
    for marac in started:
        await marac.chair.aclose()
        await marac.app.state.engine.dispose()


async def _case_with_consent(leeds: Marac) -> tuple[dict, int]:
    case = (await leeds.chair.post("/api/cases", json=REFERRAL)).json()
    consent = await leeds.chair.post(f"/api/cases/{case['id']}/consents", json=CONSENT)
    assert consent.status_code == 201, consent.text
    return case, consent.json()["id"]


async def _bundle(leeds: Marac) -> tuple[dict, dict]:
    case, consent_id = await _case_with_consent(leeds)
    sent = await leeds.chair.post(f"/api/cases/{case['id']}/transfer", json={"to": "York MARAC", "consent_id": consent_id})
    assert sent.status_code == 200, sent.text
    return case, sent.json()


async def test_a_case_moves_to_another_marac_with_its_provenance_once(maracs):
    leeds, york = maracs
    case, consent_id = await _case_with_consent(leeds)
    form = await leeds.chair.get(f"/cases/{case['id']}/transfer")
    assert f'name="consent_id" value="{consent_id}"' in form.text
    sent = await leeds.chair.post(f"/cases/{case['id']}/transfer", data={"to": "York MARAC", "consent_id": consent_id})
    assert sent.status_code == 200 and "attachment" in sent.headers["content-disposition"]
    bundle = sent.content

    closed = (await leeds.chair.get(f"/api/cases/{case['id']}")).json()
    assert closed["stage"] == "closed"
    assert "The case was transferred to another MARAC" in (await leeds.chair.get(f"/cases/{case['id']}/closure")).text

    imported = await york.chair.post("/transfers/import", files={"bundle": ("transfer.json", bundle, "application/json")})
    assert imported.status_code == 200, imported.text
    assert "Transferred from" in imported.text and "Leeds MARAC" in imported.text and case["reference"] in imported.text
    new_id = int(str(imported.url).rsplit("/", 1)[1])
    got = (await york.chair.get(f"/api/cases/{new_id}")).json()
    assert [p["name"] for p in got["people"]] == ["Norah Smith", "Mark Jones"]
    assert got["summary"] == REFERRAL["summary"] and got["checklist_score"] == 16

    again = await york.chair.post("/api/transfers", json=json.loads(bundle))
    assert again.status_code == 409 and "imported already" in again.json()["detail"]
    assert await york.case_count() == 1

    assert "case.transferred_out" in await leeds.audit_actions() and await leeds.audit_intact()
    assert "case.transferred_in" in await york.audit_actions() and await york.audit_intact()


async def test_the_imported_case_keeps_where_it_came_from_her_consents_and_history(maracs):
    leeds, york = maracs
    case, consent_id = await _case_with_consent(leeds)
    again = {**REFERRAL, "summary": "Police called out again", "add_to_case": case["id"]}
    assert (await leeds.chair.post("/api/cases", json=again)).status_code == 200
    bundle = (await leeds.chair.post(f"/api/cases/{case['id']}/transfer",
                                     json={"to": "York MARAC", "consent_id": consent_id})).json()
    imported = await york.chair.post("/api/transfers", json=bundle)
    assert imported.status_code == 201, imported.text
    provenance = imported.json()["provenance"]
    assert provenance["from"] == "Leeds MARAC" and provenance["sent_by"] == "Chair of Leeds (chair)"
    assert provenance["earlier_references"] == [case["reference"]]
    assert [c["purpose"] for c in provenance["consents"]] == [CONSENT["purpose"]]
    assert provenance["basis"].startswith("consent:") and provenance["summary_pdf"]
    pdf = await york.chair.get(f"/cases/{imported.json()['id']}/transfer-summary.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "case.transfer_summary_read" in await york.audit_actions()
    assert [h["kind"] for h in provenance["history"]] == ["opened", "referral_added"]
    assert "Police called out again" in provenance["history"][1]["reason"]


REFUSED = [  # how a bundle is spoiled, the field named, and the reason given
    (lambda b: {**b, "payload": b["payload"].replace("Norah Smith", "Nadia Smith")}, "signature", "changed after"),
    (lambda b: transfers.sign(json.loads(b["payload"]), Ed25519PrivateKey.generate()), "key", "not trusted here"),
    (lambda b: {**b, "format": "something/else"}, "format", "not a case transfer bundle"),
]


async def test_a_changed_or_foreign_bundle_is_refused_with_why(maracs):
    leeds, york = maracs
    _, bundle = await _bundle(leeds)
    for change, field, why in REFUSED:
        refused = await york.chair.post("/api/transfers", json=change(bundle))
        assert refused.status_code == 400 and refused.json()["field"] == field and why in refused.json()["detail"]
    assert await york.case_count() == 0
    assert (await york.chair.post("/api/transfers", json=bundle)).status_code == 201  # the bundle itself is good


async def test_a_withdrawn_consent_is_no_basis(maracs):
    leeds, _ = maracs
    case, consent_id = await _case_with_consent(leeds)
    withdrawn = await leeds.chair.post(f"/api/cases/{case['id']}/consents/{consent_id}/withdrawals", json={})
    assert withdrawn.status_code in (200, 201), withdrawn.text
    refused = await leeds.chair.post(f"/api/cases/{case['id']}/transfer", json={"to": "York MARAC", "consent_id": consent_id})
    assert refused.status_code == 400 and "withdrew" in refused.json()["detail"]


async def test_a_transfer_needs_a_basis_and_an_open_case(maracs):
    leeds, _ = maracs
    case, consent_id = await _case_with_consent(leeds)
    unfounded = await leeds.chair.post(f"/api/cases/{case['id']}/transfer", json={"to": "York MARAC"})
    assert unfounded.status_code == 400 and unfounded.json()["field"] == "consent_id"
    assert (await leeds.chair.get(f"/api/cases/{case['id']}")).json()["stage"] != "closed"
    sent = {"to": "York MARAC", "consent_id": consent_id}
    assert (await leeds.chair.post(f"/api/cases/{case['id']}/transfer", json=sent)).status_code == 200
    assert (await leeds.chair.post(f"/api/cases/{case['id']}/transfer", json=sent)).status_code == 409


async def test_the_command_line_exports_and_imports(maracs, tmp_path, capsys, monkeypatch):
    leeds, york = maracs
    case, consent_id = await _case_with_consent(leeds)
    file = tmp_path / "bundle.json"

    async def run(marac: Marac, *argv: str) -> tuple[int, str]:
        monkeypatch.setenv("COORDINATOR_DATABASE_URL", marac.url)
        monkeypatch.setenv("COORDINATOR_DEPLOYMENT_NAME", marac.settings.deployment_name)
        monkeypatch.setenv("COORDINATOR_TRANSFER_TRUSTED", ";".join(marac.settings.transfer_trusted))
        status = await asyncio.to_thread(main, list(argv))
        captured = capsys.readouterr()
        return status, captured.out + captured.err

    assert await run(leeds, "transfer", "key") == (0, york.settings.transfer_trusted[0] + "\n")
    status, said = await run(leeds, "transfer", "export", case["reference"], str(file), "--to", "York MARAC",
                             "--by", "chair", "--consent", str(consent_id))
    assert status == 0, said
    assert (await run(york, "transfer", "import", str(file), "--by", "chair"))[0] == 0
    status, said = await run(york, "transfer", "import", str(file), "--by", "chair")
    assert status == 1 and "imported already" in said
    assert await york.case_count() == 1


@pytest.mark.parametrize("entry", ["York MARAC=not-a-key", "=" + "A" * 43 + "=", "York MARAC"])
def test_a_trusted_sender_that_is_not_name_and_key_stops_the_start(entry):
    with pytest.raises(SystemExit, match="COORDINATOR_TRANSFER_TRUSTED"):
        Settings.from_env({"COORDINATOR_TRANSFER_TRUSTED": entry})
