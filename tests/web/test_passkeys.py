"""Passkeys: set up on the account page (or in place of the app where a role needs a second factor),
asked for after the password; refused for a challenge not the server's, a key not hers, a counter
that did not grow, or a challenge answered twice; throttled with the passwords; removed by her or
reset by an administrator, each audited and each ending her other sessions."""

from sqlalchemy import select

from coordinator import accounts
from coordinator.models import AuditEntry, Passkey, User
from tests.passkey_authenticator import SoftAuthenticator, b64

ORIGIN = "http://testserver.local"  # the test client's


async def _register(client, key: SoftAuthenticator, name: str = "Work laptop"):
    options = (await client.post("/api/account/passkeys/options")).json()
    return await client.post("/api/account/passkeys", json={"credential": key.create(options), "name": name})


async def _second_step(client_for, username: str):
    client = await client_for()
    assert (await client.login(username, second_step=False)).url.path == "/login/code"
    return client


async def _answer(client, key: SoftAuthenticator, **how):
    options = (await client.post("/api/login/passkey/options")).json()
    return await client.post("/api/login/passkey", json={"credential": key.get(options, **how)})


async def _actions(sessionmaker) -> list[str]:
    async with sessionmaker() as db:
        return list((await db.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())


async def test_a_member_sets_up_a_passkey_and_it_finishes_her_login(client_for, people, sessionmaker):
    client, elsewhere = await client_for("pc"), await client_for("pc")
    key = SoftAuthenticator(ORIGIN)
    registered = await _register(client, key)
    assert registered.status_code == 201 and registered.json() == {"next": "/account?done=passkey"}
    assert (await elsewhere.get("/api/me")).status_code == 401  # a change of her factors ends her other sessions
    page = await client.get("/account?done=passkey")
    assert "Work laptop" in page.text and "Your passkey is set up" in page.text
    assert (await client.get("/api/account")).json()["second_factor"] is True

    login = await _second_step(client_for, "pc")
    code_page = await login.get("/login/code")
    assert 'data-passkey="login"' in code_page.text and 'name="code"' not in code_page.text  # no app to ask for
    assert (await login.get("/api/me")).status_code == 401  # not in yet
    passed = await _answer(login, key)
    assert passed.status_code == 200 and passed.json() == {"next": "/"}
    assert (await login.get("/api/me")).json()["username"] == "pc"
    assert {"passkey.registered", "second_factor.passed"} <= set(await _actions(sessionmaker))


async def test_a_passkey_answer_is_refused_unless_it_is_hers_fresh_and_for_this_challenge(
        client_for, people, sessionmaker):
    key = SoftAuthenticator(ORIGIN)
    assert (await _register(await client_for("pc"), key)).status_code == 201
    assert (await _answer(await _second_step(client_for, "pc"), key)).status_code == 200  # its counter is at 1

    login = await _second_step(client_for, "pc")
    replayed = await _answer(login, key, count=False)  # the counter did not grow: a copied key
    assert replayed.status_code == 401
    wrong_challenge = await _answer(login, key, challenge=b64(b"a challenge the server never made"))
    assert wrong_challenge.status_code == 401 and "not accepted" in wrong_challenge.json()["detail"]
    unknown = await _answer(login, SoftAuthenticator(ORIGIN))  # a key registered to nobody
    assert unknown.status_code == 401
    assert (await login.get("/api/me")).status_code == 401

    # Three failures (the test setting) and the right passkey waits too, as after wrong passwords.
    throttled = await _answer(login, key)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert (await _actions(sessionmaker)).count("second_factor.failed") == 3


async def test_a_challenge_is_answered_once_and_only_where_it_was_made(client_for, people):
    key = SoftAuthenticator(ORIGIN)
    assert (await _register(await client_for("pc"), key)).status_code == 201
    login = await _second_step(client_for, "pc")
    options = (await login.post("/api/login/passkey/options")).json()
    assert (await login.post("/api/login/passkey", json={"credential": SoftAuthenticator(ORIGIN).get(options)})
            ).status_code == 401
    spent = await login.post("/api/login/passkey", json={"credential": key.get(options)})
    assert spent.status_code == 401  # the first answer, right or wrong, spent the challenge

    options = (await login.post("/api/login/passkey/options")).json()
    answer = key.get(options)
    other = await _second_step(client_for, "pc")  # another browser never asked for this challenge
    assert (await other.post("/api/login/passkey", json={"credential": answer})).status_code == 401
    assert (await login.post("/api/login/passkey", json={"credential": answer})).status_code == 200


async def test_a_passkey_is_the_second_factor_a_supervisor_needs(client_for, make_user, people, sessionmaker):
    async with sessionmaker() as db:  # a supervisor without the app the fixture sets up
        (await db.get(User, (await make_user("newsup", "police", "supervisor")).id)).totp_secret = None
        await db.commit()
    client = await client_for()
    assert (await client.login("newsup", second_step=False)).url.path == "/account/second-factor"
    page = await client.get("/account/second-factor")
    assert 'data-passkey="register"' in page.text
    key = SoftAuthenticator(ORIGIN)
    registered = await _register(client, key, name="")
    assert registered.status_code == 201 and registered.json() == {"next": "/"}  # the login is done
    assert (await client.get("/api/me")).json()["username"] == "newsup"
    later = await _second_step(client_for, "newsup")
    assert (await _answer(later, key)).status_code == 200


async def test_removing_a_passkey_or_an_administrator_resetting_ends_its_use(
        client_for, make_user, people, sessionmaker):
    await make_user("root", None, "admin")
    first, second = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    client = await client_for("pc")
    assert (await _register(client, first, name="Phone")).status_code == 201
    assert (await _register(client, first)).status_code == 400  # the same key twice
    assert (await _register(client, second, name="Key ring")).status_code == 201
    async with sessionmaker() as db:
        ids = dict((await db.execute(select(Passkey.name, Passkey.id))).all())
    pc_id = (await client.get("/api/me")).json()["id"]
    assert (await (await client_for("chair")).post(f"/account/passkeys/{ids['Phone']}/remove")).status_code == 404
    removed = await client.post(f"/account/passkeys/{ids['Phone']}/remove")
    assert removed.status_code == 200 and "The passkey is removed" in removed.text and "Phone" not in removed.text
    login = await _second_step(client_for, "pc")
    assert (await _answer(login, first)).status_code == 401  # removed: no longer hers

    root = await client_for("root")
    assert (await root.post(f"/api/admin/users/{pc_id}/second-factor/reset")).status_code == 200
    assert (await client.get("/api/me")).status_code == 401  # her sessions ended
    relogin = await client_for("pc")  # a member: no second step needed any more
    assert (await relogin.get("/api/account")).json()["passkeys"] == []
    assert {"passkey.removed", "second_factor.reset"} <= set(await _actions(sessionmaker))


async def test_passkeys_are_set_up_and_used_in_a_browser_session_only(client_for, people, sessionmaker):
    async with sessionmaker() as db:
        user = (await db.execute(select(User).where(User.username == "pc"))).scalar_one()
        token = await accounts.create_token(db, user)
        await db.commit()
    script = await client_for()
    bearer = {"authorization": f"Bearer {token}"}
    assert (await script.post("/api/account/passkeys/options", headers=bearer)).status_code == 409
    assert (await script.post("/api/login/passkey/options", headers=bearer)).status_code == 409
    assert (await script.post("/account/passkeys/1/remove", headers=bearer)).status_code == 409
