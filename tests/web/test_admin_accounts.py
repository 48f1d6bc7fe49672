"""Administration of accounts: administrators manage every account; coordinators their own agency's
members and coordinators where the deployment allows it; members none. Nobody raises their own
rights (nor anyone's above what they hold), every change is audited and ends the changed person's
sessions, and a set-password link is shown once, expires and works once."""

import dataclasses
import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from coordinator.app import create_app
from coordinator.models import AuditEntry, PasswordLink, User
from coordinator.policy import USER_ROLES
from tests.conftest import Client

NEW_PASSWORD = "a long and fresh passphrase"


@pytest.fixture
async def admin(make_user):
    return await make_user("root", None, "admin")


@pytest.fixture
async def managing_app(settings, registry):
    """The app where coordinators manage their own agency's accounts."""
    app = create_app(dataclasses.replace(settings, coordinators_manage_users=True), registry)
    yield app
    await app.state.engine.dispose()


@pytest.fixture
async def managing_client(managing_app):
    clients = []

    async def make(username: str) -> Client:
        client = Client(managing_app)
        clients.append(client)
        assert (await client.login(username)).status_code == 200
        return client
    yield make
    for client in clients:
        await client.aclose()


async def _ids(sessionmaker) -> dict[str, int]:
    async with sessionmaker() as db:
        return dict((await db.execute(select(User.username, User.id))).all())


async def _user(sessionmaker, username: str) -> User:
    async with sessionmaker() as db:
        return (await db.execute(select(User).where(User.username == username))).scalar_one()


async def _actions(sessionmaker) -> list[str]:
    async with sessionmaker() as db:
        return list((await db.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())


def _link_path(text: str) -> str:
    return re.search(r"/set-password/[A-Za-z0-9_-]+", text).group(0)


async def test_an_administrator_manages_every_account_and_members_and_coordinators_none(
        client_for, people, admin, sessionmaker):
    root = await client_for("root")
    page = await root.get("/admin/users")
    assert page.status_code == 200 and all(f"({name})" in page.text for name in ("chair", "supervisor", "pc", "root"))
    assert 'href="/admin/users"' in page.text  # the navigation offers the area
    listed = (await root.get("/api/admin/users")).json()
    assert {u["username"] for u in listed} == {"chair", "supervisor", "pc", "sw", "doc", "hou", "root"}
    for who in ("chair", "pc"):  # the setting is off: coordinators manage nobody
        client = await client_for(who)
        assert (await client.get("/admin/users")).status_code == 403
        assert (await client.get("/api/admin/users")).status_code == 403
        refused = await client.post("/api/admin/users", json={"username": "eve", "role": "admin"})
        assert refused.status_code == 403
        assert 'href="/admin/users"' not in (await client.get("/")).text
    assert "eve" not in await _ids(sessionmaker)


async def test_a_coordinator_manages_her_own_agencys_staff_where_the_setting_allows(
        managing_client, people, admin, sessionmaker):
    ids = await _ids(sessionmaker)
    chair = await managing_client("chair")  # a social-work coordinator
    listed = {u["username"] for u in (await chair.get("/api/admin/users")).json()}
    assert listed == {"chair", "sw"}  # not the supervisor, not other agencies, not the administrator
    assert (await chair.post(f"/api/admin/users/{ids['pc']}", json={"role": "member", "agency": "social_work"})).status_code == 404
    assert (await chair.post(f"/api/admin/users/{ids['supervisor']}/deactivate")).status_code == 404
    refused = await chair.post("/api/admin/users", json={"username": "new", "role": "member", "agency": "police"})
    assert refused.status_code == 403 and refused.json()["field"] == "role"
    made = await chair.post("/api/admin/users", json={"username": "new", "role": "coordinator", "agency": "social_work"})
    assert made.status_code == 201 and made.json()["role"] == "coordinator"
    promoted = await chair.post(f"/api/admin/users/{ids['sw']}", json={"role": "coordinator", "agency": "social_work"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "coordinator"
    member = await managing_client("pc")
    assert (await member.get("/api/admin/users")).status_code == 403


@pytest.mark.parametrize("who", ["root", "chair", "pc"])
async def test_nobody_raises_their_own_rights_nor_gives_more_than_they_hold(
        managing_client, people, admin, sessionmaker, who):
    ids = await _ids(sessionmaker)
    client = await managing_client(who)
    before = await _user(sessionmaker, who)
    for role in USER_ROLES:
        for agency in (None, "police", "social_work"):
            answer = await client.post(f"/api/admin/users/{ids[who]}", json={"role": role, "agency": agency})
            assert answer.status_code == 403, (role, agency)
    assert (await client.post(f"/api/admin/users/{ids[who]}/deactivate")).status_code == 403
    after = await _user(sessionmaker, who)
    assert (after.role, after.agency, after.active) == (before.role, before.agency, before.active)
    if who != "root":  # nor through an account made or changed for the purpose
        for role in ("supervisor", "admin"):
            made = await client.post("/api/admin/users", json={"username": f"x{role}", "role": role, "agency": before.agency})
            assert made.status_code == 403
            raised = await client.post(f"/api/admin/users/{ids['sw']}", json={"role": role, "agency": "social_work"})
            assert raised.status_code in (403, 404)
        assert (await _user(sessionmaker, "sw")).role == "member"


async def test_a_change_of_rights_is_audited_and_ends_the_persons_sessions(client_for, people, admin, sessionmaker):
    ids = await _ids(sessionmaker)
    pc, root = await client_for("pc"), await client_for("root")
    changed = await root.post(f"/admin/users/{ids['pc']}", data={"role": "coordinator", "agency": "health"})
    assert changed.status_code == 200 and "The account is changed" in changed.text
    assert (await pc.get("/api/me")).status_code == 401  # she logs in again under her new rights
    again = await client_for("pc")
    assert (await again.get("/api/me")).json() | {"id": 0} == {
        "id": 0, "username": "pc", "display_name": "Pc", "agency": "health", "role": "coordinator"}

    assert (await root.post(f"/admin/users/{ids['pc']}/deactivate")).status_code == 200
    assert (await again.get("/api/me")).status_code == 401
    assert (await (await client_for()).login("pc")).status_code == 401
    reactivated = await root.post(f"/api/admin/users/{ids['pc']}/reactivate")
    assert reactivated.json()["active"] is True
    assert (await (await client_for()).login("pc")).status_code == 200
    assert [a for a in await _actions(sessionmaker) if a.startswith("user.")][-3:] == [
        "user.changed", "user.deactivated", "user.reactivated"]


async def test_a_refused_change_is_shown_on_its_row_and_changes_nothing(client_for, people, admin, sessionmaker):
    ids = await _ids(sessionmaker)
    root = await client_for("root")
    refused = await root.post(f"/admin/users/{ids['pc']}", data={"role": "member", "agency": ""})
    assert refused.status_code == 400 and f'id="user-{ids["pc"]}-error"' in refused.text
    assert "belongs to an agency" in refused.text
    assert (await _user(sessionmaker, "pc")).agency == "police"


async def test_the_create_form_keeps_what_was_typed_and_names_the_field_at_fault(client_for, people, admin):
    root = await client_for("root")
    taken = await root.post("/admin/users", data={"username": "pc", "display_name": "Someone Else",
                                                  "role": "supervisor", "agency": "health"})
    assert taken.status_code == 400 and 'id="username-error"' in taken.text and "is taken" in taken.text
    assert 'value="Someone Else"' in taken.text and '<option value="supervisor" selected>' in taken.text
    assert '<option value="health" selected>' in taken.text


async def test_a_set_password_link_is_shown_once_expires_and_works_once(client_for, people, admin, sessionmaker):
    root = await client_for("root")
    created = await root.post("/admin/users", data={"username": "ana", "display_name": "Ana", "role": "member",
                                                    "agency": "health"})
    assert created.status_code == 200 and "shown only now" in created.text
    path = _link_path(created.text)
    assert path not in (await root.get("/admin/users")).text  # shown once
    async with sessionmaker() as db:  # stored as a digest only
        stored = (await db.execute(select(PasswordLink.token_hash))).scalars().all()
    assert path.rsplit("/", 1)[1] not in stored and len(stored) == 1

    ana = await client_for()
    assert (await ana.login("ana", NEW_PASSWORD)).status_code == 401  # no password of hers yet
    form = await ana.get(path)
    assert form.status_code == 200 and "ana" in form.text
    weak = await ana.post(path, data={"new_password": "password1234"})
    assert weak.status_code == 400 and 'id="new_password-error"' in weak.text
    done = await ana.post(path, data={"new_password": NEW_PASSWORD})
    assert done.status_code == 200 and "Your password is set" in done.text
    assert (await ana.post(path, data={"new_password": NEW_PASSWORD + "!"})).status_code == 404  # single use
    assert (await (await client_for()).login("ana", NEW_PASSWORD)).status_code == 200

    ids = await _ids(sessionmaker)
    first = (await root.post(f"/api/admin/users/{ids['ana']}/password-link")).json()["set_password_link"]
    second = (await root.post(f"/api/admin/users/{ids['ana']}/password-link")).json()["set_password_link"]
    assert (await ana.get(_link_path(first))).status_code == 404  # replaced by the newer link
    async with sessionmaker() as db:
        await db.execute(update(PasswordLink).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        await db.commit()
    assert (await ana.get(_link_path(second))).status_code == 404  # expired
    assert (await ana.get("/set-password/not-a-link")).status_code == 404
    assert "password_link.issued" in await _actions(sessionmaker)
    assert "password.set_by_link" in await _actions(sessionmaker)
