"""Accounts in a real browser on the demo: the administrator (second factor from the demo's key)
creates an account and copies its set-password link; its owner sets her password through it, sets
up a second factor from the QR page by keyboard, and sees her sessions. The README's pictures of
the account and administration pages are taken here (`make screenshots`)."""

from __future__ import annotations

import pyotp
from playwright.async_api import expect

from coordinator.demo import DEMO_PASSWORD, load_demo
from coordinator.plugins import load_agencies
from tests.e2e.conftest import serious_accessibility_violations

NEW_PASSWORD = "three quiet harbour lanterns"


async def test_an_account_made_by_the_administrator_set_up_by_its_owner(logged_in, server, sessionmaker,
                                                                          screenshots, browser):
    registry = load_agencies()
    async with sessionmaker() as session:
        await load_demo(session, registry)
        await session.commit()

    admin = await logged_in("admin", password=DEMO_PASSWORD)  # through the code page, with the demo's key
    await admin.get_by_role("link", name="Accounts").click()
    await expect(admin.get_by_role("heading", name="Accounts")).to_be_visible()
    await admin.get_by_label("Username").fill("nadia")
    await admin.get_by_label("Name", exact=True).fill("Nadia Health")
    await admin.get_by_label("Role", exact=True).select_option("member")
    await admin.get_by_label("Agency", exact=True).select_option(registry.keys[0])
    await admin.get_by_role("button", name="Create account").click()
    link = await admin.get_by_role("textbox", name="Set-password link").input_value()
    assert "/set-password/" in link
    assert await serious_accessibility_violations(admin) == []
    await admin.screenshot(path=screenshots / "admin-accounts.png", full_page=True)

    context = await browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 800})
    try:
        nadia = await context.new_page()
        await nadia.goto(link)
        await nadia.get_by_label("New password").fill(NEW_PASSWORD)
        await nadia.get_by_role("button", name="Set password").click()
        await expect(nadia.get_by_text("Your password is set")).to_be_visible()
        await nadia.get_by_label("Username").fill("nadia")
        await nadia.get_by_label("Password").fill(NEW_PASSWORD)
        await nadia.get_by_role("button", name="Log in").click()
        await expect(nadia.get_by_role("heading", name="Dashboard")).to_be_visible()

        await nadia.goto("/account/second-factor")
        await expect(nadia.locator(".qr svg")).to_be_visible()
        secret = await nadia.locator("#totp-secret").get_attribute("data-secret")
        await nadia.get_by_label("Code").focus()
        await nadia.keyboard.type(pyotp.TOTP(secret).now())
        await nadia.keyboard.press("Enter")
        await expect(nadia.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        await nadia.get_by_role("button", name="Continue").click()

        await nadia.goto("/account")
        await expect(nadia.get_by_role("heading", name="Where you are logged in")).to_be_visible()
        await expect(nadia.get_by_text("this session")).to_be_visible()
        await expect(nadia.get_by_text("An authenticator app is set up")).to_be_visible()
        assert await serious_accessibility_violations(nadia) == []
        await nadia.screenshot(path=screenshots / "account.png", full_page=True)
    finally:
        await context.close()
