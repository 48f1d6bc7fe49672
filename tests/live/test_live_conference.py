"""The live conference against a real server process, with real websocket clients."""

from tests.conference_scenario import ARREARS, CALL_OUTS, INJURIES


async def test_three_agencies_each_receive_their_own_filtered_fragments(servers, people_on, scenario):
    server = servers()
    chair, pc, sw, doc = await people_on(server, "chair", "pc", "sw", "doc")
    pages = {name: await person.open_page(scenario.conference_id)
             for name, person in (("pc", pc), ("sw", sw), ("doc", doc))}
    # Case A: police's call-outs go to social work by consent; health's injuries go nowhere.
    assert CALL_OUTS in pages["pc"].part("case") and INJURIES not in pages["pc"].part("case")
    assert CALL_OUTS in pages["sw"].part("case") and INJURIES not in pages["sw"].part("case")
    assert INJURIES in pages["doc"].part("case") and CALL_OUTS not in pages["doc"].part("case")
    assert "Withheld: Health care holds" in pages["pc"].part("case")
    assert "Withheld: Police holds" in pages["doc"].part("case")

    # The chair moves to case B: every page follows, each filtered for its own agency.
    state = (await chair.api("GET", f"/api/conferences/{scenario.conference_id}")).json()["conference"]
    case_b_item = next(e["id"] for e in state["agenda"] if e["case_id"] == scenario.case_b)
    moved = await chair.api("POST", f"/api/conferences/{scenario.conference_id}/move",
                            {"item_id": case_b_item, "version": state["version"]})
    assert moved.status_code == 200, moved.text
    for page in pages.values():
        await page.wait_until("case", "Ana")
    assert ARREARS in pages["sw"].part("case") and ARREARS in pages["doc"].part("case")  # owner; consent
    assert ARREARS not in pages["pc"].part("case") and "Withheld: Social work holds" in pages["pc"].part("case")

    # A role assigned by the chair appears at once on every page; only police is offered to volunteer
    # for perpetrator management, as only police can take it.
    assigned = await chair.api("POST", f"/api/conferences/{scenario.conference_id}/roles", {
        "case_id": scenario.case_b, "responsibility": "safety_planning", "agency": "police", "version": 0})
    assert assigned.status_code == 200, assigned.text
    for page in pages.values():  # every page shows the holder; only the chair's has the controls
        await page.wait_until("roles", "Police <span")
    assert "Reassign" not in pages["pc"].part("roles") and "Reassign" not in pages["doc"].part("roles")
    assert "We'll take it" in pages["pc"].part("roles").split('id="role-perpetrator_management"')[1].split("</tr>")[0]
    assert "We'll take it" not in pages["doc"].part("roles").split('id="role-perpetrator_management"')[1].split("</tr>")[0]


async def test_renders_per_change_follow_the_audiences_present_not_the_people(servers, people_on, scenario):
    server = servers()
    # 6 pages of 5 people, 3 agencies; audiences are (agency, chairs or not): social work
    # chairing, social work, police, health co-chairing, health.
    people = await people_on(server, "chair", "sw", "pc", "cochair", "doc", "doc")
    pages = []
    for person in people:  # one at a time, each arrival seen by the first page before the next
        pages.append(await person.open_page(scenario.conference_id))
        await pages[0].wait_for(lambda page: page.presence(person.username.title()) == "present")
    chair = people[0]
    before = (await chair.api("GET", "/api/live/stats")).json()
    assert before["conferences"][str(scenario.conference_id)] == {"pages": 6, "audiences": 5, "agencies": 3}
    await chair.api("POST", f"/api/conferences/{scenario.conference_id}/notes", {
        "case_id": scenario.case_a, "kind": "decision", "text": "Refer to the perpetrator programme"})
    for page in pages:
        await page.wait_until("notes", "Refer to the perpetrator programme")
    after = (await chair.api("GET", "/api/live/stats")).json()
    assert after["renders"] - before["renders"] == 5


async def test_a_change_to_the_plan_comes_without_the_form_that_names_people(servers, people_on, scenario):
    """The form for a new action lists every person each agency on the case could name: it comes
    with the page and when the meeting moves to another case, not with each change to the plan."""
    server = servers()
    (chair,) = await people_on(server, "chair")
    page = await chair.open_page(scenario.conference_id)
    assert ">Pc</option>" in page.part("new_action") and "Add an action" in page.part("new_action")
    conference = f"/api/conferences/{scenario.conference_id}"
    added = await chair.api("POST", f"{conference}/actions", {
        "case_id": scenario.case_a, "agency": "police", "title": "Check the flat", "domain": "victim",
        "due_on": "2026-12-24"})
    assert added.status_code == 200, added.text
    await page.wait_until("actions", "Check the flat")
    action = next(a for a in added.json()["actions"] if a["title"] == "Check the flat")
    changed = await chair.api("POST", f"{conference}/actions/status", {
        "task_id": action["id"], "status": "blocked", "reason": "No key", "version": action["version"]})
    assert changed.status_code == 200, changed.text
    received: dict[str, str] = {}
    while "Reason: No key" not in received.get(f"conference-actions-{scenario.conference_id}", ""):
        received = await page.receive()
    assert f"conference-new_action-{scenario.conference_id}" not in received
    assert ">Pc</option>" not in "".join(received.values())

    confirmed = await chair.api("POST", f"{conference}/actions/confirm",
                                {"task_id": action["id"], "version": action["version"] + 1})
    assert confirmed.status_code == 200, confirmed.text  # agreed, so the meeting may move on
    state = (await chair.api("GET", conference)).json()["conference"]
    case_b = next(e["id"] for e in state["agenda"] if e["case_id"] == scenario.case_b)
    moved = await chair.api("POST", f"{conference}/move", {"item_id": case_b, "version": state["version"]})
    assert moved.status_code == 200, moved.text
    await page.wait_until("new_action", f'name="case_id" value="{scenario.case_b}"', ">Pc</option>")


async def test_a_serving_process_does_not_walk_its_start_up_objects_in_every_full_collection(servers, people_on,
                                                                                              scenario):
    """A full garbage collection walks every object the collector tracks, and every live update
    in flight waits for it: ``coordinator serve`` freezes what start-up made (the imported code)
    and lets young objects die by their reference counts, so full collections are few and short."""
    server = servers()
    (chair,) = await people_on(server, "chair")
    collector = (await chair.api("GET", "/api/live/stats")).json()["collector"]
    assert collector["frozen"] > 50_000, collector
    assert collector["thresholds"][0] >= 10_000, collector


async def test_presence_is_live_and_a_reconnect_gets_the_current_state(servers, people_on, scenario):
    server = servers()
    chair, pc = await people_on(server, "chair", "pc")
    chair_page = await chair.open_page(scenario.conference_id)
    assert chair_page.presence("Pc") == "away"
    pc_page = await pc.open_page(scenario.conference_id)
    await chair_page.wait_for(lambda page: page.presence("Pc") == "present")

    await pc_page.close()  # the laptop lid closes
    await chair_page.wait_for(lambda page: page.presence("Pc") == "away")
    assert "Left" in chair_page.part("presence")
    url = f"/api/conferences/{scenario.conference_id}"
    await chair.api("POST", f"{url}/roles", {"case_id": scenario.case_a, "responsibility": "perpetrator_management",
                                             "agency": "police", "version": 0})
    await chair.api("POST", f"{url}/notes", {"case_id": scenario.case_a, "kind": "decision",
                                             "text": "Police to serve the order"})
    back = await pc.open_page(scenario.conference_id)  # the first message is the whole current page
    assert back.messages == 1
    assert "Police to serve the order" in back.part("notes")
    assert "Police <span" in back.part("roles").split('id="role-perpetrator_management"')[1]
    assert back.presence("Pc") == "present"
    await chair_page.wait_for(lambda page: page.presence("Pc") == "present")


async def test_a_version_conflict_is_reported_with_the_current_state(servers, people_on, scenario):
    server = servers()
    chair, cochair, pc = await people_on(server, "chair", "cochair", "pc")
    pc_page = await pc.open_page(scenario.conference_id)
    url = f"/api/conferences/{scenario.conference_id}"
    role = {"case_id": scenario.case_a, "responsibility": "victim_contact", "version": 0}
    first = await chair.api("POST", f"{url}/roles", {**role, "agency": "police"})
    second = await cochair.api("POST", f"{url}/roles", {**role, "agency": "health"})  # saw it vacant too
    assert first.status_code == 200
    assert second.status_code == 409
    conflict = second.json()
    assert "changed by someone else" in conflict["detail"] and "now held by Police" in conflict["detail"]
    holder = next(r for r in conflict["current"]["roles"] if r["key"] == "victim_contact")
    assert holder["agency"] == "police" and holder["version"] == 1
    await pc_page.wait_for(lambda page: "Police <span" in page.part("roles").split('id="role-victim_contact"')[1])

    # Two edits of one action: the second, made on the version both saw, is refused.
    added = await chair.api("POST", f"{url}/actions", {"case_id": scenario.case_a, "agency": "police",
                                                       "title": "Visit the address", "domain": "victim",
                                                       "due_on": "2026-12-01"})
    action = added.json()["actions"][0]
    done = await pc.api("POST", f"{url}/actions/status", {"task_id": action["id"], "status": "done",
                                                           "version": action["version"]})
    blocked = await chair.api("POST", f"{url}/actions/status", {"task_id": action["id"], "status": "blocked",
                                                                "reason": "no car", "version": action["version"]})
    assert done.status_code == 200 and blocked.status_code == 409
    assert blocked.json()["current"]["actions"][0]["status"] == "done"
    await pc_page.wait_until("actions", 'class="badge status-done">Done')

    # The live page's own form: the refusal comes back with the message and the current fragment.
    page_form = await chair.http.post(f"/conferences/{scenario.conference_id}/changes/assign-role", data={
        **{k: str(v) for k, v in role.items()}, "agency": "social_work"},
        headers={"hx-request": "true", **chair._csrf()})
    assert page_form.status_code == 409
    assert "changed by someone else" in page_form.text and 'hx-swap-oob="true"' in page_form.text


async def test_uninvited_non_accepting_logged_out_and_foreign_origin_are_refused(servers, people_on, scenario):
    server = servers()
    outsider, late, pc = await people_on(server, "outsider", "late", "pc")
    # Not invited: told exactly what a missing conference tells (no existence oracle).
    assert await outsider.refusal(scenario.conference_id) == (4404, f"no conference {scenario.conference_id}")
    code, reason = await late.refusal(scenario.conference_id)
    assert code == 4428 and "confidentiality statement" in reason
    assert (await pc.refusal(scenario.conference_id, cookies=False))[0] == 4401
    assert await pc.refusal(scenario.conference_id, origin="http://evil.example") == (4403, "origin not allowed")
    assert await pc.refusal(9999) == (4404, "no conference 9999")
    # Once the statement is accepted, the same person is let in.
    await late.api("POST", f"/api/conferences/{scenario.conference_id}/statement")
    page = await late.open_page(scenario.conference_id)
    assert INJURIES in page.part("case")
