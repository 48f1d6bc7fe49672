"""Argon2 takes a tenth of a second of CPU a password: a login checks it off the event loop, at a
lower priority than the loop, and holds no database connection meanwhile, so every other request
is served while it runs."""

import asyncio
import os
import threading

from coordinator import accounts

WAIT = 10.0  # seconds: only a safety net, so a login that blocks the server fails instead of hanging


async def test_other_requests_are_served_while_a_login_checks_its_password(client_for, people, monkeypatch):
    other = await client_for("supervisor")  # logged in before the password check is held up
    checking, release, seen = threading.Event(), threading.Event(), {}
    matches = accounts._matches

    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def held_check(password_hash: str, password: str) -> bool:
        seen["below the event loop"] = priority() > loop_priority  # niceness: higher is lower priority
        checking.set()
        seen["released while checking"] = release.wait(WAIT)
        return matches(password_hash, password)

    loop_priority = priority()
    monkeypatch.setattr(accounts, "_matches", held_check)
    login = asyncio.create_task((await client_for()).login("pc"))
    await asyncio.to_thread(checking.wait, WAIT)
    me = await other.get("/api/me")  # reads the session and the user from the database
    release.set()
    assert (await login).status_code == 200  # redirected to the dashboard: the password matched
    assert me.json()["username"] == "supervisor"
    assert seen == {"below the event loop": True, "released while checking": True}


async def test_a_wrong_password_and_an_unknown_name_are_refused_alike(client_for, people):
    client = await client_for()
    for username, password in [("pc", "not the password"), ("nobody", "not a password anyone has")]:
        refused = await client.login(username, password)
        assert refused.status_code == 401 and "Wrong username or password" in refused.text
