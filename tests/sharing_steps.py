"""Steps the sharing tests take through the JSON API, as the people of the ``people`` fixture."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from coordinator.models import (
    AuditEntry,
    Consent,
    ConsentScope,
    ConsentWithdrawal,
    Disclosure,
    InformationItem,
    Override,
    OverrideScope,
)

WRITTEN_TABLES = (InformationItem, Consent, ConsentScope, ConsentWithdrawal, Override, OverrideScope, AuditEntry,
                  Disclosure)


def later(**delta: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(**delta)).isoformat()


async def record_item(client, case_id: int, category: str, text: str, nature: str = "fact") -> dict:
    body = {"category": category, "nature": nature, "text": text}
    response = await client.post(f"/api/cases/{case_id}/items", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def grant_consent(client, case_id: int, categories: list[str], recipients: list[str], **fields) -> dict:
    body = {"purpose": "case conference", "method": "written", "given_by": "Nora", "categories": categories,
            "recipients": recipients, **fields}
    response = await client.post(f"/api/cases/{case_id}/consents", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def consent_to_join(client, case_id: int, *agencies: str) -> dict:
    """Her consent to share with ``agencies``: the ground on which they may join the case."""
    return await grant_consent(client, case_id, ["police.call_outs"], list(agencies))


async def refer_her(client, case_id: int) -> dict:
    """Her referral, sent by her case worker: what a task done through a referral needs."""
    body = {"to_agency": "housing", "purpose": "emergency accommodation", "method": "written", "given_by": "Nora",
            "categories": ["police.call_outs"]}
    drafted = await client.post(f"/api/cases/{case_id}/referrals", json=body)
    assert drafted.status_code == 201, drafted.text
    sent = await client.post(f"/api/referrals/{drafted.json()['id']}/status", json={"status": "sent", "version": 1})
    assert sent.status_code == 201, sent.text
    return sent.json()


async def withdraw(client, case_id: int, consent: dict, *pairs: tuple[str, str]) -> dict:
    """Withdraw the scopes naming these (category, recipient) pairs, or the whole consent."""
    scope_ids = [s["id"] for s in consent["scopes"] if (s["category"], s["recipient"]) in pairs]
    response = await client.post(f"/api/cases/{case_id}/consents/{consent['id']}/withdrawals",
                                 json={"scope_ids": scope_ids})
    assert response.status_code == 201, response.text
    return response.json()


async def request_override(client, case_id: int, categories: list[str], recipients: list[str], **fields) -> dict:
    body = {"legal_basis": "risk_to_life", "justification": "threats to kill reported last night",
            "categories": categories, "recipients": recipients, "expires_at": later(days=7), **fields}
    response = await client.post(f"/api/cases/{case_id}/overrides", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def decide(client, case_id: int, override_id: int, decision: str):  # noqa: ANN201
    return await client.post(f"/api/cases/{case_id}/overrides/{override_id}/decision",
                             json={"decision": decision, "note": "checked with the team"})


async def items_by_id(client, case_id: int) -> dict[int, dict]:
    response = await client.get(f"/api/cases/{case_id}/items")
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()}


async def row_counts(sessionmaker) -> dict[str, int]:
    """How many rows each table the sharing features write holds: equal before and after means nothing written."""
    async with sessionmaker() as session:
        return {model.__tablename__: (await session.execute(select(func.count()).select_from(model))).scalar_one()
                for model in WRITTEN_TABLES}


async def as_if_expired(sessionmaker, model, row_id: int) -> None:
    """Time passes: the consent or override's expiry is now behind us."""
    async with sessionmaker() as session:
        await session.execute(update(model).where(model.id == row_id)
                              .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        await session.commit()
