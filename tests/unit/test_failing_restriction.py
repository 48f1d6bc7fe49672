"""A restriction hook that raises: the item is withheld (fail closed) and the failure is logged
naming the plugin and the hook."""

from __future__ import annotations

import logging

from coordinator.gate import ItemView
from tests.sharing_steps import grant_consent, record_item
from tests.unit.conftest import app_with, open_case, plugin_errors, seen_through_gate

app = app_with("failing_restriction")


async def shared_call_outs(app, client_for, staff, sessionmaker) -> ItemView:
    """Police's call-outs, shared with health by consent, as health sees them through the gate."""
    chair, police = await client_for("chair"), await client_for("pc")
    case = await open_case(chair, ["police", "health"])
    item = await record_item(police, case["id"], "police.call_outs", "Two call-outs in May")
    await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])
    return await seen_through_gate(sessionmaker, app, staff["health"], case["id"], item["id"])


async def test_a_failing_restriction_withholds_the_item(app, client_for, staff, sessionmaker):
    view = await shared_call_outs(app, client_for, staff, sessionmaker)
    assert view.withheld and view.text is None
    assert view.decision.reason == "The restriction check of Failing restriction failed"


async def test_a_failing_restriction_is_logged_naming_plugin_and_hook(app, client_for, staff, sessionmaker, caplog):
    with caplog.at_level(logging.ERROR, logger="coordinator.plugins"):
        await shared_call_outs(app, client_for, staff, sessionmaker)
    assert plugin_errors(caplog, "failing_restriction", "agency_restrict_disclosure")
