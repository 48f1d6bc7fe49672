"""Retention: `coordinator retention --dry-run` lists closed cases past the period and changes
nothing; `--apply` removes their text and personal details, so a scan of the whole database (audit
log included) finds none of it, while the audit chain still verifies; an open case, or one
reopened, is never touched."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from sqlalchemy import String, Text, select

from coordinator import audit
from coordinator.models import Base
from tests.live.server import ROOT, server_env
from tests.sharing_steps import grant_consent, record_item
from tests.web.test_closure import close
from tests.web.test_threat_assessment import SUSPENSION
from tests.web.test_threat_assessment import open_case as open_threat_case

SECRETS = ("Zanzibar-Street-17", "Quillon Marsh", "ring the blue door twice", "Fernwood refuge",
           "bruising on the left arm", "Kestrel Ward")


def retention(database_url: str, mode: str, days: int = 0) -> str:
    run = subprocess.run([sys.executable, "-m", "coordinator.cli", "retention", mode], cwd=ROOT, capture_output=True,
                         text=True, timeout=120,
                         env=server_env(database_url=database_url, extra={"COORDINATOR_RETENTION_DAYS": str(days)}))
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


async def scan(sessionmaker, needle: str) -> list[str]:
    """Every text column of every table that still holds ``needle``."""
    found = []
    async with sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if isinstance(column.type, String | Text):
                    hits = (await session.execute(select(column).where(column.contains(needle)))).all()
                    found += [f"{table.name}.{column.name}"] * len(hits)
    return found


async def test_retention_removes_every_trace_of_the_text_and_keeps_the_audit_verifiable(
        client_for, people, sessionmaker, database_url):
    chair, supervisor, police = await client_for("chair"), await client_for("supervisor"), await client_for("pc")
    street, name, words, refuge, injury, ward = SECRETS
    created = await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "checklist_score": 15, "agencies": ["police", "social_work", "health"],
        "lead_agency": "social_work", "summary": f"Lives at {street}",
        "people": [{"role": "survivor", "name": name}, {"role": "subject", "name": ward}],
        "key_dates": [{"kind": "hearing", "on": "2030-01-01", "note": f"at {refuge}"}]})
    assert created.status_code == 201, created.text
    case = created.json()
    kept = (await chair.post("/api/cases", json={
        "kind": "domestic_abuse", "checklist_score": 15, "agencies": ["police"],
        "people": [{"role": "survivor", "name": "Ada Open"}]})).json()
    await record_item(police, case["id"], "police.injuries_observed", injury)
    await grant_consent(chair, case["id"], ["police.injuries_observed"], ["health"], given_by=name)
    assert (await chair.patch(f"/api/cases/{case['id']}", json={
        "version": case["version"], "reason": f"moved from {street}", "summary": f"Now near {refuge}"})).status_code == 200
    assert (await police.post(f"/api/cases/{case['id']}/events", json={
        "kind": "loss", "on": dt.date.today().isoformat(), "note": words})).status_code == 201
    assert (await police.post(f"/api/cases/{case['id']}/sign-offs", json={
        "agency": "police", "decision": "not_applicable", "reason": f"she is safe at {refuge}"})).status_code == 201
    await close(chair, supervisor, case["id"])
    assert sum([len(await scan(sessionmaker, s)) for s in SECRETS]) > 0

    listed = retention(database_url, "--dry-run")
    assert case["reference"] in listed and kept["reference"] not in listed
    assert await scan(sessionmaker, street)  # a dry run changes nothing

    applied = retention(database_url, "--apply")
    assert "removed the text of 1 closed case" in applied
    for secret in SECRETS:
        assert await scan(sessionmaker, secret) == [], secret
    assert await scan(sessionmaker, "Ada Open")  # the open case is untouched
    async with sessionmaker() as session:
        assert (await audit.verify(session)).ok
    assert "0 closed case" in retention(database_url, "--apply")  # once only


async def test_a_case_within_the_period_or_reopened_is_not_due(client_for, people, database_url, case):
    chair, supervisor = await client_for("chair"), await client_for("supervisor")
    await close(chair, supervisor, case["id"])
    assert case["reference"] not in retention(database_url, "--dry-run", days=30)
    assert (await chair.post(f"/api/cases/{case['id']}/reopen", json={"reason": "she came back"})).status_code == 201
    assert case["reference"] not in retention(database_url, "--dry-run", days=0)


async def test_the_reason_for_keeping_a_separation_is_removed(client_for, people, make_user, sessionmaker,
                                                              database_url):
    await make_user("tat", "education")
    chair, supervisor, school = await client_for("chair"), await client_for("supervisor"), await client_for("tat")
    case = await open_threat_case(chair)
    reason = "his grandmother in Quillon Marsh watches him"
    kept = await school.post(f"/api/cases/{case['id']}/plan", json={"keep_reason": reason, **SUSPENSION})
    assert kept.status_code == 201, kept.text
    await close(chair, supervisor, case["id"])
    assert await scan(sessionmaker, reason) == ["plan_acknowledgements.reason"]
    retention(database_url, "--apply")
    assert await scan(sessionmaker, "grandmother") == []
