"""The consent gate is the one reader of item text: in the source, and in every query the read
paths actually send to the database."""

import ast
import contextlib
import contextvars
import re
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import InvalidRequestError

from coordinator import gate
from coordinator.models import InformationItem
from tests.sharing_steps import grant_consent, record_item

GATE = Path("coordinator/gate.py")


def selects_text(sql: str) -> bool:
    """A query that reads the item text column (however it is written)."""
    return (re.match(r"\s*SELECT\b", sql, re.IGNORECASE) is not None and "information_items" in sql.lower()
            and re.search(r"\btext\b", sql, re.IGNORECASE) is not None)


def _product_sources(root: Path) -> list[Path]:
    files = [*root.glob("coordinator/**/*.py"), *root.glob("plugins/**/*.py")]
    return [f for f in files if "migrations" not in f.parts]


def _text_readers(tree: ast.AST) -> list[str]:
    """Every place that could read the text column: the attribute, undeferring it, raw SQL on the table."""
    found = []
    for node in ast.walk(tree):
        name = getattr(node, "id", getattr(node, "attr", None))
        if isinstance(node, ast.Attribute) and name == "text" and getattr(node.value, "id", None) == "InformationItem":
            found.append(f"line {node.lineno}: InformationItem.text")
        if isinstance(node, ast.Name | ast.Attribute) and name in ("undefer", "undefer_group"):
            found.append(f"line {node.lineno}: undefer")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and selects_text(node.value):
            found.append(f"line {node.lineno}: raw SQL reading item text")
    return found


def test_only_the_gate_module_selects_item_text_in_the_source(root):
    offenders = {}
    for path in _product_sources(root):
        relative = path.relative_to(root)
        if relative == GATE:
            continue
        found = _text_readers(ast.parse(path.read_text(), filename=str(relative)))
        if found:
            offenders[str(relative)] = found
    assert offenders == {}
    assert _text_readers(ast.parse((root / GATE).read_text())), "the gate itself must be where the text is read"


def test_the_scan_catches_a_module_that_reads_text_itself():
    sneaky = ("from sqlalchemy import select, text\n"
              "q = select(InformationItem.text)\n"
              "r = text('SELECT text FROM information_items')\n")
    assert len(_text_readers(ast.parse(sneaky))) == 2


async def test_a_loaded_item_never_carries_its_text(client_for, case, sessionmaker):
    police = await client_for("pc")
    await record_item(police, case["id"], "police.call_outs", "not for loading")
    async with sessionmaker() as session:
        item = (await session.execute(select(InformationItem))).scalar_one()
        with pytest.raises(InvalidRequestError):
            _ = item.text


_inside_gate: contextvars.ContextVar[bool] = contextvars.ContextVar("inside_gate", default=False)


@contextlib.contextmanager
def text_reads_watched(engine, monkeypatch):  # noqa: ANN001, ANN201
    """Yield a list that gets, for every query reading item text, whether it ran inside the gate."""
    reads: list[bool] = []
    gate_reader = gate._read_items

    async def flagged_reader(*args, **kwargs):  # noqa: ANN202
        token = _inside_gate.set(True)
        try:
            return await gate_reader(*args, **kwargs)
        finally:
            _inside_gate.reset(token)

    def watch(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if selects_text(statement):
            reads.append(_inside_gate.get())

    monkeypatch.setattr(gate, "_read_items", flagged_reader)
    event.listen(engine.sync_engine, "before_cursor_execute", watch)
    try:
        yield reads
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", watch)


async def test_the_watch_catches_a_query_for_text_outside_the_gate(client_for, case, app, monkeypatch):
    police = await client_for("pc")
    await record_item(police, case["id"], "police.call_outs", "Call-out on 3 March")
    with text_reads_watched(app.state.engine, monkeypatch) as reads:
        async with app.state.sessionmaker() as session:
            await session.execute(select(InformationItem.id, InformationItem.text))
    assert reads == [False]


async def test_every_query_for_item_text_on_every_read_path_runs_inside_the_gate(client_for, case, app, monkeypatch):
    police, health, chair = await client_for("pc"), await client_for("doc"), await client_for("chair")
    supervisor = await client_for("supervisor")
    with text_reads_watched(app.state.engine, monkeypatch) as reads:
        item = await record_item(police, case["id"], "police.call_outs", "Call-out on 3 March")
        await police.post(f"/api/cases/{case['id']}/items/{item['id']}/corrections",
                          json={"text": "Call-outs on 3 March"})
        await grant_consent(chair, case["id"], ["police.call_outs"], ["health"])
        cid = case["id"]
        paths = [f"/cases/{cid}", f"/cases/{cid}/items", f"/cases/{cid}/items/{item['id']}/history",
                 f"/cases/{cid}/export.html", f"/cases/{cid}/consents", f"/cases/{cid}/overrides",
                 f"/api/cases/{cid}/items", f"/api/cases/{cid}/items/{item['id']}/history", f"/api/cases/{cid}/export",
                 f"/api/cases/{cid}/consents", f"/api/cases/{cid}/overrides", f"/api/cases/{cid}", "/",
                 "/api/dashboard"]
        for client in (police, health):
            for path in paths:
                assert (await client.get(path)).status_code == 200, path
        for path in (f"/cases/{cid}/disclosures", f"/api/cases/{cid}/disclosures"):
            assert (await supervisor.get(path)).status_code == 200
    assert reads and all(reads), f"{reads.count(False)} queries read item text outside the gate"
