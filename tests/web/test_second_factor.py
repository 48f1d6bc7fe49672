"""The second factor: TOTP set up from a server-made QR code, then asked for after the password; a
code is accepted once, recovery codes once each, wrong codes throttled like passwords; required
for supervisors and administrators (a setting), who cannot use anything until they have one; an
administrator resets it (audited); API tokens are unaffected."""

import dataclasses
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from coordinator import accounts
from coordinator.app import create_app
from coordinator.models import AuditEntry, User
from coordinator.settings import Settings
from tests.conftest import PASSWORD, Client
from tests.logins import TEST_RECOVERY_CODES, TEST_TOTP_SECRET
from tests.web.test_tokens_and_deactivation import me, new_token


def _code(secret: str, steps_from_now: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time() // totp.interval) + steps_from_now)


async def _password_only(client: Client, username: str):
    return await client.login(username, second_step=False)


async def _actions(sessionmaker) -> list[str]:
    async with sessionmaker() as db:
        return list((await db.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())


async def test_a_member_sets_up_totp_then_logs_in_with_a_code_used_once_and_recovery_codes_once(
        client_for, people, sessionmaker):
    client = await client_for("pc")
    assert 'href="/account/second-factor"' in (await client.get("/account")).text  # optional for a member
    page = await client.get("/account/second-factor")
    assert page.status_code == 200 and "<svg" in page.text and 'class="segno"' in page.text  # drawn on the server
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page.text).group(1)
    assert len(secret) == 32  # 160 bits, as RFC 4226 recommends
    assert (await client.get("/account/second-factor")).text.count(secret) >= 1  # the same secret until proved

    wrong = await client.post("/account/second-factor", data={"code": "000000" if _code(secret) != "000000" else "111111"})
    assert wrong.status_code == 400 and 'id="code-error"' in wrong.text
    enrolled = await client.post("/account/second-factor", data={"code": _code(secret)})
    assert enrolled.status_code == 200 and "shown only now" in enrolled.text
    recovery = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", enrolled.text)
    assert len(recovery) == 10 and len(set(recovery)) == 10

    other = await client_for()
    answer = await _password_only(other, "pc")
    assert answer.url.path == "/login/code" and "Enter your code" in answer.text
    assert (await other.get("/api/me")).status_code == 401  # not in yet
    reused = await other.post("/login/code", data={"code": _code(secret)})  # the step used to set it up
    assert reused.status_code == 401 and "used already" in reused.text
    accepted = await other.post("/login/code", data={"code": _code(secret, 1)})
    assert accepted.status_code == 200 and (await other.get("/api/me")).json()["username"] == "pc"

    third = await client_for()
    await _password_only(third, "pc")
    assert (await third.post("/login/code", data={"code": recovery[0].upper()})).status_code == 200
    fourth = await client_for()
    await _password_only(fourth, "pc")
    assert (await fourth.post("/login/code", data={"code": recovery[0]})).status_code == 401  # spent
    assert "second_factor.enrolled" in await _actions(sessionmaker)


async def test_mid_login_nothing_but_the_code_page_and_logout_answers(client_for, people):
    client = await client_for()
    await _password_only(client, "supervisor")  # enrolled by the fixture
    for path in ("/", "/account", "/admin/users"):
        assert (await client.get(path)).url.path == "/login/code"
    refused = await client.get("/api/me")
    assert refused.status_code == 401 and "/login/code" in refused.json()["detail"]
    htmx = await client.get("/nav", headers={"hx-request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"] == "/login/code"
    assert (await client.post("/logout")).url.path == "/login"
    assert (await client.get("/login/code")).url.path == "/login"


async def test_the_session_gets_a_new_id_when_the_code_is_accepted(client_for, people):
    client = await client_for()
    await _password_only(client, "supervisor")
    before = client.cookies.get("session")
    assert (await client.post("/login/code", data={"code": _code(TEST_TOTP_SECRET)})).status_code == 200
    assert client.cookies.get("session") not in (None, before)


async def test_wrong_codes_are_throttled_like_passwords(client_for, people):
    client = await client_for()
    await _password_only(client, "supervisor")
    for _ in range(3):  # the test settings allow 3 failures
        assert (await client.post("/login/code", data={"code": "12345"})).status_code == 401
    throttled = await client.post("/login/code", data={"code": _code(TEST_TOTP_SECRET)})
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert "try again in" in throttled.text
    assert (await client.get("/api/me")).status_code == 401


async def test_a_required_role_without_a_factor_must_set_one_up_before_anything(client_for, people, sessionmaker, registry):
    async with sessionmaker() as db:  # made as the command line makes accounts: no factor yet
        await accounts.create_user(db, username="boss", agency="health", role="supervisor", password=PASSWORD,
                                   agencies=registry.keys)
        await db.commit()
    client = await client_for()
    landed = await _password_only(client, "boss")
    assert landed.url.path == "/account/second-factor" and "Your role needs a second factor" in landed.text
    assert (await client.get("/")).url.path == "/account/second-factor"
    assert "set one up" in (await client.get("/api/me")).json()["detail"]
    secret = re.search(r'data-secret="([A-Z2-7]+)"', landed.text).group(1)
    enrolled = await client.post("/account/second-factor", data={"code": _code(secret)})
    assert enrolled.status_code == 200 and (await client.get("/api/me")).json()["role"] == "supervisor"


async def test_the_setting_names_the_roles_that_need_a_factor(settings, registry, sessionmaker, people):
    async with sessionmaker() as db:
        await accounts.create_user(db, username="boss", agency="health", role="supervisor", password=PASSWORD,
                                   agencies=registry.keys)
        await db.commit()
    app = create_app(dataclasses.replace(settings, second_factor_roles=("member",)), registry)
    try:
        async with Client(app) as boss, Client(app) as pc:
            assert (await _password_only(boss, "boss")).url.path == "/"  # not required of supervisors here
            assert (await _password_only(pc, "pc")).url.path == "/account/second-factor"
    finally:
        await app.state.engine.dispose()


async def test_api_tokens_are_unaffected(client_for, people, sessionmaker):
    token = await new_token(sessionmaker, "supervisor")
    assert (await me(await client_for(), token)).json()["username"] == "supervisor"


async def test_an_administrator_resets_a_factor_audited_and_nobody_else_or_their_own(
        client_for, people, make_user, sessionmaker):
    await make_user("root", None, "admin")
    async with sessionmaker() as db:
        ids = dict((await db.execute(select(User.username, User.id))).all())
    supervisor, root = await client_for("supervisor"), await client_for("root")
    assert (await supervisor.post(f"/api/admin/users/{ids['root']}/second-factor/reset")).status_code == 403
    assert (await root.post(f"/api/admin/users/{ids['root']}/second-factor/reset")).status_code == 403
    page = await root.get("/admin/users")
    assert f'action="/admin/users/{ids["supervisor"]}/second-factor/reset"' in page.text
    assert f'action="/admin/users/{ids["root"]}/second-factor/reset"' not in page.text

    reset = await root.post(f"/admin/users/{ids['supervisor']}/second-factor/reset")
    assert reset.status_code == 200 and "The second factor is reset" in reset.text
    assert (await supervisor.get("/api/me")).status_code == 401  # her sessions ended
    again = await client_for()
    assert (await _password_only(again, "supervisor")).url.path == "/account/second-factor"
    async with sessionmaker() as db:
        user = await db.get(User, ids["supervisor"])
        assert user.totp_secret is None
    await _password_only(await client_for(), "supervisor")
    assert "second_factor.reset" in await _actions(sessionmaker)


@pytest.mark.parametrize("code", [TEST_RECOVERY_CODES[0], TEST_RECOVERY_CODES[0].replace("-", " ")])
async def test_a_recovery_code_may_be_typed_with_spaces_or_dashes(client_for, people, code):
    client = await client_for()
    await _password_only(client, "supervisor")
    assert (await client.post("/login/code", data={"code": code})).status_code == 200


def test_the_roles_needing_a_factor_are_read_from_the_environment():
    assert Settings.from_env({}).second_factor_roles == ("supervisor", "admin")
    assert Settings.from_env({"COORDINATOR_REQUIRE_SECOND_FACTOR_FOR": "none"}).second_factor_roles == ()
    assert Settings.from_env({"COORDINATOR_REQUIRE_SECOND_FACTOR_FOR": "admin, member"}).second_factor_roles == (
        "admin", "member")
    with pytest.raises(SystemExit, match="unknown roles"):
        Settings.from_env({"COORDINATOR_REQUIRE_SECOND_FACTOR_FOR": "boss"})
