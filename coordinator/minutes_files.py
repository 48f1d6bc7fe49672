"""Minutes as files to file: HTML, Markdown and PDF rendered from the minutes templates, each
served file's SHA-256 recorded in the audit chain, so that a filed copy can be checked later
(``coordinator minutes verify FILE``) without the log holding any of its text."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit
from coordinator.conference.minutes import Minutes
from coordinator.errors import Unavailable
from coordinator.models import AuditEntry, Conference
from coordinator.policy import Actor

GENERATED = "minutes.generated"
# The Debian packages WeasyPrint needs (the Makefile's PDF_PACKAGES): without them the server still
# runs, and only the PDF copies answer that these are missing.
PDF_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"


@dataclass(frozen=True)
class Format:
    template: str
    media_type: str
    label: str


# The PDF is the HTML file's own template laid out by WeasyPrint: one source for both.
FORMATS = {
    "html": Format("conferences/minutes_file.html", "text/html; charset=utf-8", "HTML"),
    "md": Format("conferences/minutes.md", "text/markdown; charset=utf-8", "Markdown"),
    "pdf": Format("conferences/minutes_file.html", "application/pdf", "PDF"),
}


@dataclass(frozen=True)
class MinutesFile:
    name: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return digest(self.content)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def pdf(html: str) -> bytes:
    """A self-contained HTML page laid out as a PDF (503 where the Pango libraries are missing)."""
    try:
        import weasyprint  # loads Pango on first use only, not at every start of the server or a command
    except (ImportError, OSError) as exc:  # OSError: the Pango library cannot be loaded
        raise Unavailable(f"PDF minutes need the Pango libraries, missing on this server ({exc}); its "
                          f"administrator installs them with 'sudo apt-get install -y {PDF_PACKAGES}'. "
                          "The HTML and Markdown copies work meanwhile.") from exc

    # Minutes are self-contained: no URL of any scheme is fetched, so nothing in them can make
    # the renderer reach the network or the disk (fonts come from the system's fontconfig).
    no_fetching = weasyprint.urls.URLFetcher(allowed_protocols=())
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=no_fetching).write_pdf()


def render(env: Environment, record: Minutes, kind: str) -> MinutesFile:
    """One copy of the minutes as a file of ``kind`` (``html``, ``md`` or ``pdf``). Rendering a
    PDF takes a moment of CPU: call it off the event loop."""
    chosen = FORMATS[kind]
    text = env.get_template(chosen.template).render(minutes=record)
    content = pdf(text) if kind == "pdf" else text.encode()
    name = f"minutes-conference-{record.conference_id}-{record.agency or 'coordinators'}.{kind}"
    return MinutesFile(name, chosen.media_type, content)


async def record_generated(session: AsyncSession, actor: Actor, record: Minutes, kind: str, file: MinutesFile) -> None:
    """Every file served is recorded, each time (who took which copy is part of the record),
    with its digest; never its text."""
    await audit.record(session, actor, GENERATED, subject=f"conference:{record.conference_id}",
                       conference_id=record.conference_id, format=kind, agency=record.agency, sha256=file.sha256)


@dataclass(frozen=True)
class Generated:
    """A served copy of the minutes whose digest matched, as the audit log recorded it."""

    conference_id: int
    conference_title: str | None  # None when the conference is no longer in the database
    agency: str | None
    format: str
    at: dt.datetime
    actor_id: int | None
    audit_id: int


async def generated_with(session: AsyncSession, sha256: str) -> list[Generated]:
    """Every time a file with this digest was served, oldest first."""
    # The detail is canonical JSON (sorted keys, no spaces), so the digest appears exactly so.
    rows = (await session.execute(
        select(AuditEntry).where(AuditEntry.action == GENERATED,
                                 AuditEntry.detail.contains(f'"sha256":"{sha256}"', autoescape=True))
        .order_by(AuditEntry.id))).scalars().all()
    found = []
    for entry in rows:
        detail = json.loads(entry.detail)
        conference = await session.get(Conference, detail["conference_id"])
        found.append(Generated(detail["conference_id"], conference.title if conference else None, detail.get("agency"),
                               detail["format"], entry.at, entry.actor_id, entry.id))
    return found
