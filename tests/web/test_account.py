"""A person's own account page: she changes her password (current one required, NIST rules: length,
no common passwords), sees where she is logged in and ends those sessions, and revokes her tokens."""

import pytest

from coordinator import accounts
from tests.conftest import PASSWORD
from tests.web.test_tokens_and_deactivation import me, new_token

NEW_PASSWORD = "a new and long passphrase"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")


def test_new_passwords_follow_length_and_the_common_list_not_composition():
    assert accounts.password_problem("short", min_length=12).startswith("Choose a password of at least 12")
    assert accounts.password_problem("x" * 11, min_length=11) is None  # the setting decides the length
    assert accounts.password_problem("x" * 201, min_length=12) == "Choose a password of at most 200 characters."
    assert "most common" in accounts.password_problem("q1w2e3r4t5y6", min_length=12)
    assert "most common" in accounts.password_problem("Q1W2E3R4T5Y6", min_length=12)  # the list is lowercase
    # No composition rules: only letters and spaces, or only digits, are fine when long and uncommon.
    assert accounts.password_problem("purple elephants dance", min_length=12) is None
    assert accounts.password_problem("73915820461937", min_length=12) is None
    assert len(accounts.common_passwords()) == 10_000


async def _change(client, current: str, new: str):
    return await client.post("/account/password", data={"current_password": current, "new_password": new})


async def test_changing_her_password_needs_the_current_one_and_ends_her_other_sessions(client_for, people):
    here, elsewhere = await client_for("pc"), await client_for("pc")
    wrong = await _change(here, "not my password", NEW_PASSWORD)
    assert wrong.status_code == 400 and 'id="current_password-error"' in wrong.text
    assert "This is not your current password." in wrong.text
    assert (await elsewhere.get("/api/me")).status_code == 200  # nothing changed

    changed = await _change(here, PASSWORD, NEW_PASSWORD)
    assert changed.status_code == 200 and "Your password is changed" in changed.text
    assert (await here.get("/api/me")).status_code == 200  # the session she changed it in goes on
    assert (await elsewhere.get("/api/me")).status_code == 401
    assert (await (await client_for()).login("pc", PASSWORD)).status_code == 401
    assert (await (await client_for()).login("pc", NEW_PASSWORD)).status_code == 200


@pytest.mark.parametrize(("new", "message"), [
    ("too short", "at least 12 characters"),
    ("q1w2e3r4t5y6", "one of the most common"),
    ("x" * 201, "200"),
    (PASSWORD, "the one you have now"),
])
async def test_a_refused_new_password_is_named_beside_its_field(client_for, people, new, message):
    client = await client_for("pc")
    refused = await _change(client, PASSWORD, new)
    assert refused.status_code == 400 and 'id="new_password-error"' in refused.text and message in refused.text
    assert (await (await client_for()).login("pc", PASSWORD)).status_code == 200


async def test_guessing_the_current_password_is_throttled_like_a_login(client_for, people):
    client = await client_for("pc")
    for _ in range(3):  # the test settings allow 3 failures
        assert (await _change(client, "a wrong guess", NEW_PASSWORD)).status_code == 400
    throttled = await client.post("/api/account/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert throttled.status_code == 429 and "try again in" in throttled.json()["detail"]
    assert int(throttled.headers["retry-after"]) > 0


async def test_she_sees_her_sessions_by_device_and_ends_one_or_all_others(app, client_for, people):
    laptop, phone, tablet = (await client_for(), await client_for(), await client_for())
    laptop.headers["user-agent"], phone.headers["user-agent"] = FIREFOX, IPHONE
    for client in (laptop, phone, tablet):
        assert (await client.login("pc")).status_code == 200
    await client_for("sw")  # someone else's session is never listed

    page = await laptop.get("/account")
    assert "Firefox on Windows" in page.text and "Safari on iPhone" in page.text and "this session" in page.text
    listed = (await laptop.get("/api/account")).json()["sessions"]
    assert len(listed) == 3 and listed[0]["current"] and listed[0]["device"] == "Firefox on Windows"
    assert all(s["address"] and s["last_used_at"] for s in listed)
    phone_handle = next(s["handle"] for s in listed if s["device"] == "Safari on iPhone")

    ended = await laptop.post(f"/account/sessions/{phone_handle}/end")
    assert ended.status_code == 200 and "The session has ended." in ended.text
    assert (await phone.get("/api/me")).status_code == 401 and (await tablet.get("/api/me")).status_code == 200
    again = await laptop.post(f"/api/account/sessions/{phone_handle}/end")
    assert again.status_code == 404 and again.json()["field"] == "handle"

    assert (await laptop.post("/api/account/sessions/end-others")).json() == {"ended": 1}
    assert (await tablet.get("/api/me")).status_code == 401 and (await laptop.get("/api/me")).status_code == 200


async def test_nobody_ends_another_persons_session(client_for, people):
    pc, sw = await client_for("pc"), await client_for("sw")
    sw_handle = (await sw.get("/api/account")).json()["sessions"][0]["handle"]
    refused = await pc.post(f"/api/account/sessions/{sw_handle}/end")
    assert refused.status_code == 404 and (await sw.get("/api/me")).status_code == 200


async def test_she_revokes_her_own_tokens_and_nobody_elses(client_for, people, sessionmaker):
    mine, theirs = await new_token(sessionmaker, "pc"), await new_token(sessionmaker, "sw")
    client = await client_for("pc")
    tokens = (await client.get("/api/account")).json()["tokens"]
    assert [t["status"] for t in tokens] == ["active"]
    page = await client.get("/account")
    assert f'action="/account/tokens/{tokens[0]["id"]}/revoke"' in page.text

    their_id = (await (await client_for("sw")).get("/api/account")).json()["tokens"][0]["id"]
    assert (await client.post(f"/api/account/tokens/{their_id}/revoke")).status_code == 404
    assert (await me(client, theirs)).status_code == 200

    revoked = await client.post(f"/account/tokens/{tokens[0]['id']}/revoke")
    assert revoked.status_code == 200 and "The token is revoked." in revoked.text
    assert (await me(await client_for(), mine)).status_code == 401
