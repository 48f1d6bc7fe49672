"""A person's notification choices on her account page and in the API, and the administrators'
page of deliveries that failed: what each reader is shown, and bad input refused with a message."""

from __future__ import annotations

from sqlalchemy import update

from coordinator.models import Notification


async def test_a_person_chooses_her_address_channels_and_a_daily_digest(client_for, people):
    pc = await client_for("pc")
    assert (await pc.get("/api/account")).json()["notifications"] == {
        "email": "", "by_email": True, "by_webhook": True, "daily": False}
    chosen = await pc.post("/api/account/notifications", json={
        "email": "pc@police.example", "by_email": True, "by_webhook": False, "daily": True})
    assert chosen.status_code == 200, chosen.text
    assert (await pc.get("/api/account")).json()["notifications"] == {
        "email": "pc@police.example", "by_email": True, "by_webhook": False, "daily": True}
    page = await pc.post("/account/notifications", data={"email": "pc2@police.example", "by_email": "on",
                                                         "daily": "0"})
    assert page.status_code == 200 and "Your notification choices are saved" in page.text
    assert 'value="pc2@police.example"' in page.text and "once a day, at 07:00" in page.text
    assert (await pc.get("/api/account")).json()["notifications"]["daily"] is False


async def test_an_address_that_is_not_one_is_refused_naming_the_field(client_for, people):
    pc = await client_for("pc")
    refused = await pc.post("/api/account/notifications", json={"email": "not an address"})
    assert refused.status_code == 400 and "e-mail address" in refused.json()["detail"]
    form = await pc.post("/account/notifications", data={"email": "no-at-sign.example"})
    assert form.status_code == 400 and "e-mail address" in form.text
    assert (await pc.get("/api/account")).json()["notifications"]["email"] == ""


async def test_administrators_see_failed_deliveries_and_nobody_else_does(client_for, people, make_user, case, app):
    await make_user("root", None, "admin")
    pc = await client_for("pc")
    await pc.post("/api/account/notifications", json={"email": "pc@police.example"})
    chair = await client_for("chair")
    task = await chair.post(f"/api/cases/{case['id']}/tasks", json={
        "agency": "police", "title": "Check the address", "domain": "victim"})
    assert task.status_code == 201, task.text
    async with app.state.sessionmaker() as session:
        await session.execute(update(Notification).values(status="failed", attempts=8,
                                                          last_error="mail server: SMTPConnectError"))
        await session.commit()
    root = await client_for("root")
    page = await root.get("/admin/notifications")
    assert page.status_code == 200
    assert "SMTPConnectError" in page.text and "pc (e-mail)" in page.text and case["reference"] in page.text
    report = (await root.get("/api/admin/notifications")).json()
    assert report["counts"] == {"failed": 1}
    assert report["troubles"][0]["kind"] == "action_assigned"
    assert 'href="/admin/notifications"' in (await root.get("/")).text  # the navigation offers the area
    assert 'href="/admin/notifications"' not in (await pc.get("/")).text
    assert (await pc.get("/api/admin/notifications")).status_code == 403
    assert (await chair.get("/admin/notifications")).status_code == 403
