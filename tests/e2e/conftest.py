"""Browser tests: Debian's Chromium driven by Playwright (async API) against a real server
process on the test database (SQLite, or PostgreSQL when COORDINATOR_TEST_DATABASE_URL is set).

They run in their own pytest invocation (see the Makefile's ``test`` target): the browser's
event loop is not shared with the other async tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyotp
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright, expect
from sqlalchemy import update

from coordinator.demo import DEMO_TOTP_SECRET
from coordinator.models import Participant
from tests.conference_scenario import PASSWORD, Scenario, build_conference
from tests.live.server import running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}

# Auto-waiting expectations wait up to this long: a safety net so a broken feature fails
# instead of hanging, generous enough for a loaded 2-core machine.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
async def browser(tmp_path_factory) -> Browser:
    """One headless Chromium for the run, with its profile and cache in a temporary folder."""
    home = tmp_path_factory.mktemp("chromium")
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        yield browser
        await browser.close()


@pytest.fixture
def server(database_url):
    """A real server process on the test's database, stopped after the test."""
    with running_server(database_url=database_url) as running:
        yield running


@pytest.fixture
async def scenario(sessionmaker, registry) -> Scenario:
    """The shared conference scenario, not yet started, in which the people who will use the
    browsers (the chair, ``pc`` of police and ``doc`` of health) have not yet accepted the
    confidentiality statement: they do that in the browser."""
    built = await build_conference(sessionmaker, registry, start=False)
    browser_users = [built.users[name] for name in ("chair", "pc", "doc")]
    async with sessionmaker() as session:
        await session.execute(update(Participant).where(
            Participant.conference_id == built.conference_id, Participant.user_id.in_(browser_users),
        ).values(statement_accepted_at=None))
        await session.commit()
    return built


@pytest.fixture
def console() -> list[str]:
    """What the pages of a test logged as errors or warnings (a CSP violation is one)."""
    return []


async def second_step(page: Page) -> None:
    """Where the password led to a second step: the code of the demo's known key, or setting up a
    factor from the key the page shows."""
    await page.wait_for_load_state()
    if page.url.endswith("/login/code"):
        await page.get_by_label("Code").fill(pyotp.TOTP(DEMO_TOTP_SECRET).now())
        await page.get_by_role("button", name="Continue").click()
    elif page.url.endswith("/account/second-factor"):
        secret = await page.locator("#totp-secret").get_attribute("data-secret")
        await page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
        await page.get_by_role("button", name="Set up").click()
        await page.get_by_role("button", name="Continue").click()


@pytest.fixture
async def logged_in(browser, server, console):
    """logged_in("pc") -> a page in a browser context of its own, logged in through the login
    page and showing the dashboard. Contexts are closed after the test. ``viewport`` gives the
    page another size (a phone's, say)."""
    contexts: list[BrowserContext] = []

    async def log_in(username: str, viewport: dict[str, int] = VIEWPORT, password: str = PASSWORD) -> Page:
        context = await browser.new_context(base_url=server.base_url, viewport=viewport, accept_downloads=True,
                                            locale="en-US")
        contexts.append(context)
        page = await context.new_page()
        page.on("console", lambda message: console.append(f"{username}: {message.text}")
                if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: console.append(f"{username}: uncaught {error}"))
        await page.goto("/login")
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Log in").click()
        await second_step(page)
        await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        return page

    yield log_in
    for context in contexts:
        await context.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where the test saves its pictures of the live page: COORDINATOR_SCREENSHOTS (e.g.
    docs/screenshots, to refresh the ones in the README) or the test's temporary folder."""
    folder = Path(os.environ.get("COORDINATOR_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def tab_to(page: Page, target: Locator, *, backwards: bool = False, limit: int = 120) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus, as a keyboard user would; fails if it
    cannot be reached that way."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if await target.evaluate("element => element === document.activeElement"):
            return
        await page.keyboard.press(key)
    raise AssertionError(f"could not reach {target} with {key}")


async def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands (axe is served from the
    server itself, so the strict CSP stays as it is)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(url="/static/vendor/axe.min.js")
    found = await page.evaluate("""async () => {
        const results = await axe.run(document, {resultTypes: ["violations"]});
        return results.violations.filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "));
    }""")
    return found


def csp_violations(console: list[str]) -> list[str]:
    return [line for line in console if "Content Security Policy" in line]
