"""A passkey in a real browser: Chromium's virtual authenticator (DevTools WebAuthn domain) stands in
for a security key. She sets one up on her account page, logs out, and logs in with her password
and the passkey; the page's script carries the browser's navigator.credentials answers."""

from __future__ import annotations

from playwright.async_api import expect

from tests.conference_scenario import PASSWORD
from tests.e2e.conftest import csp_violations

# A passkey is bound to a host name, never an address: the server is reached as localhost.
AUTHENTICATOR = {"protocol": "ctap2", "transport": "usb", "hasResidentKey": False, "hasUserVerification": True,
                 "isUserVerified": True, "automaticPresenceSimulation": True}


async def _password(page, username: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def test_a_passkey_set_up_on_the_account_page_finishes_the_next_login(browser, server, make_user, console):
    await make_user("nadia", "police", "member")
    context = await browser.new_context(base_url=server.base_url.replace("127.0.0.1", "localhost"))
    try:
        page = await context.new_page()
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        devtools = await context.new_cdp_session(page)
        await devtools.send("WebAuthn.enable")
        authenticator = (await devtools.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR}))[
            "authenticatorId"]

        await _password(page, "nadia")
        await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        await page.goto("/account")
        await page.get_by_label("Name of the new passkey").fill("Office key")
        await page.get_by_role("button", name="Set up a passkey").click()
        await expect(page.get_by_text("Your passkey is set up")).to_be_visible()
        await expect(page.get_by_role("cell", name="Office key")).to_be_visible()
        held = (await devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator}))["credentials"]
        assert len(held) == 1

        await page.get_by_role("button", name="Log out").first.click()
        await _password(page, "nadia")
        await expect(page.get_by_role("heading", name="Use your passkey")).to_be_visible()
        await page.get_by_role("button", name="Use your passkey").click()
        await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        held = (await devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator}))["credentials"]
        assert held[0]["signCount"] >= 1  # the server saw the counter move on
        assert csp_violations(console) == []
    finally:
        await context.close()
