"""Minutes ready to file: the PDF copy of each agency (marked, numbered and titled on every page,
through the consent gate like every other form of the minutes), the print stylesheet of the
minutes page, even Markdown, and the digest of every served file in the audit chain, checked by
``coordinator minutes verify FILE``."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import select

from coordinator import cli
from coordinator.models import AuditEntry
from tests.conference_scenario import CALL_OUTS, CASE_C_NOTE, INJURIES
from tests.web.test_conference_access import end, move_to

pytestmark = pytest.mark.usefixtures("live_channels")

# Enough decisions to run the minutes over several pages.
MULTI_LINE = "Two things agreed:\nfirst the refuge,\n\nthen the school"
DECISIONS = [f"Decision {n}: review the safety plan with the survivor before the next hearing" for n in range(70)]


async def ended_conference(client_for, scenario, *, long: bool = False):
    """Case A discussed (with many decisions when ``long``) and case C; then the end."""
    chair = await client_for("chair")
    url = f"/api/conferences/{scenario.conference_id}"
    await chair.post(f"{url}/roles", json={"case_id": scenario.case_a, "responsibility": "perpetrator_management",
                                           "agency": "police", "version": 0})
    action = (await chair.post(f"{url}/actions", json={
        "case_id": scenario.case_a, "agency": "police", "title": "Flag the address", "domain": "victim",
        "due_on": "2027-01-08"})).json()["actions"][0]
    confirmed = await (await client_for("pc")).post(f"{url}/actions/confirm", json={
        "task_id": action["id"], "version": action["version"]})
    assert confirmed.status_code == 200, confirmed.text
    await chair.post(f"{url}/notes", json={"case_id": scenario.case_a, "kind": "note", "text": MULTI_LINE})
    for text in DECISIONS if long else DECISIONS[:1]:
        recorded = await chair.post(f"{url}/notes", json={"case_id": scenario.case_a, "kind": "decision", "text": text})
        assert recorded.status_code == 200, recorded.text
    await move_to(chair, scenario, scenario.case_c)
    await chair.post(f"{url}/notes", json={"case_id": scenario.case_c, "kind": "note", "text": CASE_C_NOTE})
    await end(chair, scenario)
    return chair


def pdf_pages(content: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages]


async def test_the_pdf_copy_is_marked_titled_and_numbered_on_every_page(client_for, scenario):
    await ended_conference(client_for, scenario, long=True)
    police = await client_for("pc")
    response = await police.get(f"/conferences/{scenario.conference_id}/minutes.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert 'filename="minutes-conference-' in response.headers["content-disposition"]
    pages = pdf_pages(response.content)
    assert len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert "OFFICIAL-SENSITIVE: Police copy" in text, number
        assert "Minutes: Weekly MARAC" in text, number
        assert f"Page {number} of {len(pages)}" in text, number
    whole = "\n".join(pages)
    assert DECISIONS[-1] in whole and CALL_OUTS in whole


@pytest.mark.parametrize("reader, sees, never", [
    ("pc", [CALL_OUTS, CASE_C_NOTE], [INJURIES]),
    ("doc", [INJURIES, "Your agency is not part of this case"], [CALL_OUTS, CASE_C_NOTE]),
    ("sw", [CALL_OUTS, CASE_C_NOTE], [INJURIES]),
])
async def test_each_agency_pdf_holds_only_what_the_gate_lets_it_read(client_for, scenario, reader, sees, never):
    await ended_conference(client_for, scenario)
    response = await (await client_for(reader)).get(f"/conferences/{scenario.conference_id}/minutes.pdf")
    assert response.status_code == 200, response.text
    text = " ".join(" ".join(pdf_pages(response.content)).split())  # lines rejoined: a text may wrap
    for expected in sees:
        assert expected in text, expected
    for withheld in never:
        assert withheld not in text, withheld
    assert "withheld from your agency" in text


async def test_the_pdf_needs_what_the_other_minutes_need(client_for, scenario):
    chair = await client_for("chair")
    police = await client_for("pc")
    assert (await police.get(f"/conferences/{scenario.conference_id}/minutes.pdf")).status_code == 409  # not ended
    await end(chair, scenario)
    late, outsider = await client_for("late"), await client_for("outsider")
    refused = await late.get(f"/conferences/{scenario.conference_id}/minutes.pdf")
    assert refused.status_code == 403 and INJURIES not in refused.text
    assert (await outsider.get(f"/conferences/{scenario.conference_id}/minutes.pdf")).status_code == 404



class NoPango:
    """An import finder that fails as ``import weasyprint`` does on a machine without Pango."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201
        if name == "weasyprint":
            raise self.failure
        return None


@pytest.mark.parametrize("failure", [OSError("cannot load library 'libpango-1.0-0': No such file"),
                                     ImportError("No module named 'weasyprint'")])
async def test_without_the_pdf_libraries_the_pdf_names_what_to_install_and_the_other_copies_work(
        client_for, scenario, monkeypatch, failure):
    await ended_conference(client_for, scenario)
    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPango(failure), *sys.meta_path])
    police, url = await client_for("pc"), f"/conferences/{scenario.conference_id}/minutes"
    pdf = await police.get(f"{url}.pdf")
    assert pdf.status_code == 503
    assert "sudo apt-get install -y libpango-1.0-0 libpangoft2-1.0-0" in pdf.text
    assert "HTML and Markdown copies work" in pdf.text
    for kind in ("html", "md"):
        copy = await police.get(f"{url}.{kind}")
        assert copy.status_code == 200 and CALL_OUTS in copy.text, kind


def spacing_faults(markdown: str) -> list[str]:
    """Where the Markdown's spacing is uneven: a heading without one blank line before and after
    it, a blank line between the items of a list, two blank lines in a row, a line of an item
    that falls out of its item, or no final newline."""
    lines = markdown.split("\n")
    faults = [] if markdown.endswith("\n") and not markdown.endswith("\n\n") else ["the end"]
    for n, line in enumerate(lines[:-1]):
        before, after = lines[n - 1] if n else "", lines[n + 1]
        if line.startswith("#") and (before != "" or after != ""):
            faults.append(f"heading {line!r}")
        if line == "" and before == "":
            faults.append(f"two blank lines at {n}")
        if line == "" and before.startswith("- ") and after.startswith("- "):
            faults.append(f"a blank line inside the list at {n}")
        if before.startswith(("- ", "  ")) and line and not line.startswith(("- ", "  ", "#")):
            faults.append(f"{line!r} fell out of its list item")
    return faults


async def test_markdown_minutes_are_evenly_spaced(client_for, scenario):
    chair = await ended_conference(client_for, scenario)
    for reader in (chair, await client_for("doc")):  # in full, and with a case as its agenda line only
        markdown = (await reader.get(f"/conferences/{scenario.conference_id}/minutes.md")).text
        assert spacing_faults(markdown) == []
        assert markdown.startswith("**OFFICIAL-SENSITIVE: ")
    assert "- Two things agreed:\n  first the refuge,\n\n  then the school\n" in markdown
    assert "- Police: Flag the address · Victim · due 2027-01-08 · Open\n\n### Decisions" in markdown


async def generated_entries(sessionmaker) -> list[AuditEntry]:
    async with sessionmaker() as db:
        return list((await db.execute(select(AuditEntry).where(AuditEntry.action == "minutes.generated")
                                      .order_by(AuditEntry.id))).scalars())


async def test_every_served_file_has_its_digest_in_the_audit_chain_and_no_text(client_for, scenario, sessionmaker):
    await ended_conference(client_for, scenario)
    police, health = await client_for("pc"), await client_for("doc")
    served = []
    for reader, agency in ((police, "police"), (health, "health")):
        for kind in ("html", "md", "pdf"):
            response = await reader.get(f"/conferences/{scenario.conference_id}/minutes.{kind}")
            assert response.status_code == 200, response.text
            served.append((kind, agency, hashlib.sha256(response.content).hexdigest()))
    await police.get(f"/conferences/{scenario.conference_id}/minutes")  # the page is not a file
    entries = await generated_entries(sessionmaker)
    assert [(e.subject, (d := json.loads(e.detail))["format"], d["agency"], d["sha256"]) for e in entries] == [
        (f"conference:{scenario.conference_id}", kind, agency, sha256) for kind, agency, sha256 in served]
    for entry in entries:
        assert CALL_OUTS not in entry.detail and "Weekly MARAC" not in entry.detail
    assert len({sha256 for _, _, sha256 in served}) == 6  # each agency's copy differs in each format


def verify(database_url: str, path: Path, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.setenv("COORDINATOR_DATABASE_URL", database_url)
    code = cli.main(["minutes", "verify", str(path)])
    return code, capsys.readouterr().out


async def test_minutes_verify_accepts_a_served_file_and_refuses_one_changed_by_a_byte(
        client_for, scenario, database_url, tmp_path, capsys, monkeypatch):
    await ended_conference(client_for, scenario)
    police = await client_for("pc")
    for kind, label in (("pdf", "PDF"), ("md", "Markdown")):
        filed = tmp_path / f"filed.{kind}"
        filed.write_bytes((await police.get(f"/conferences/{scenario.conference_id}/minutes.{kind}")).content)
        code, out = await asyncio.to_thread(verify, database_url, filed, capsys, monkeypatch)
        assert code == 0, out
        assert f"conference {scenario.conference_id} (Weekly MARAC), Police copy, {label}, generated " in out

        changed = bytearray(filed.read_bytes())
        changed[len(changed) // 2] ^= 1
        altered = tmp_path / f"altered.{kind}"
        altered.write_bytes(bytes(changed))
        code, out = await asyncio.to_thread(verify, database_url, altered, capsys, monkeypatch)
        assert code == 1 and "matches no generated minutes" in out


async def test_minutes_verify_refuses_a_match_in_a_broken_audit_chain(
        client_for, scenario, database_url, sessionmaker, tmp_path, capsys, monkeypatch):
    await ended_conference(client_for, scenario)
    filed = tmp_path / "filed.pdf"
    police = await client_for("pc")
    filed.write_bytes((await police.get(f"/conferences/{scenario.conference_id}/minutes.pdf")).content)
    async with sessionmaker() as db:  # someone edits the log to make the copy look like health's
        entry = (await generated_entries(sessionmaker))[-1]
        forged = json.loads(entry.detail) | {"agency": "health"}
        await db.execute(AuditEntry.__table__.update().where(AuditEntry.id == entry.id)
                         .values(detail=json.dumps(forged, sort_keys=True, separators=(",", ":"))))
        await db.commit()
    code, out = await asyncio.to_thread(verify, database_url, filed, capsys, monkeypatch)
    assert code == 1 and "audit log is BROKEN" in out


STATIC = Path(__file__).resolve().parents[2] / "static"


def printed(page: str) -> str:
    """The page as a browser prints it (print media, the site's stylesheets), as text."""
    import weasyprint
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class Static(URLFetcher):
        def fetch(self, url: str, headers=None) -> URLFetcherResponse:
            name = url.split("/static/", 1)[1]
            return URLFetcherResponse(url, (STATIC / name).read_bytes(), {"Content-Type": "text/css"})

    pdf = weasyprint.HTML(string=page, base_url="http://testserver.local/", url_fetcher=Static(fail_on_errors=True),
                          media_type="print").write_pdf()
    return "\n".join(pdf_pages(pdf))


async def test_the_minutes_page_prints_without_the_site_around_it_and_with_its_marking(client_for, scenario):
    await ended_conference(client_for, scenario)
    police = await client_for("pc")
    page = (await police.get(f"/conferences/{scenario.conference_id}/minutes")).text
    assert "Log out" in page and "Download (PDF)" in page  # on screen
    text = await asyncio.to_thread(printed, page)
    assert text.lstrip().startswith("OFFICIAL-SENSITIVE: Police copy")
    assert "Minutes: Weekly MARAC" in text and CALL_OUTS in text
    for chrome in ("Log out", "Download", "Skip to content", "Case Conference Coordinator"):
        assert chrome not in text, chrome
