"""A case event hook that raises: recorded, never blocking. The user's change stands, the other
agencies still react, and the failure is logged and audited by name."""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from coordinator.models import AuditEntry
from tests.fake_agencies import probation
from tests.sharing_steps import items_by_id
from tests.unit.conftest import app_with, open_case, plugin_errors, task_titles

app = app_with("failing_reaction")
CALL_OUTS = "Two call-outs in May"


async def record_call_outs(client_for) -> tuple[dict, object]:
    """Police records an item on a case where failing_reaction comes before probation."""
    chair, police = await client_for("chair"), await client_for("pc")
    case = await open_case(chair, ["police", "failing_reaction", "probation"])
    response = await police.post(f"/api/cases/{case['id']}/items",
                                 json={"category": "police.call_outs", "nature": "fact", "text": CALL_OUTS})
    return case, response


async def test_a_failing_reaction_does_not_block_the_change_nor_the_other_reactions(client_for, staff):
    case, response = await record_call_outs(client_for)
    assert response.status_code == 201, response.text
    police = await client_for("pc")
    assert [i["text"] for i in (await items_by_id(police, case["id"])).values()] == [CALL_OUTS]
    assert probation.REVIEW in await task_titles(police, case["id"], "probation")


async def test_a_failing_reaction_is_audited_by_name_and_logged(client_for, staff, sessionmaker, caplog):
    with caplog.at_level(logging.ERROR, logger="coordinator.plugins"):
        case, _ = await record_call_outs(client_for)
    assert plugin_errors(caplog, "failing_reaction", "case_information_recorded")
    async with sessionmaker() as session:
        [entry] = (await session.execute(select(AuditEntry).where(AuditEntry.action == "plugin.failed"))).scalars()
    assert (entry.case_id, entry.actor_id) == (case["id"], staff["police"].id)
    # Ids and names only: the plugin's message (which names the case here) stays out of the audit.
    assert json.loads(entry.detail) == {"plugin": "failing_reaction", "hook": "case_information_recorded", "error": "RuntimeError"}


async def test_coordinators_see_a_failed_reaction_on_the_case_page(client_for, staff):
    case, _ = await record_call_outs(client_for)
    chair_page = (await (await client_for("chair")).get(f"/cases/{case['id']}")).text
    assert "Agency plugin failures on this case" in chair_page and "case_information_recorded" in chair_page
    police_page = (await (await client_for("pc")).get(f"/cases/{case['id']}")).text
    assert "Agency plugin failures" not in police_page
