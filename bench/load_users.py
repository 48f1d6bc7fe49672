"""The people ``bench/load.py`` sends at the server through locust: agency members who log in once,
then read the case and its conference and record information on the case, as a busy morning
before a meeting looks. Run by ``bench/load.py`` (``locust -f bench/load_users.py``), which passes
the accounts and the case in the environment:

    LOAD_PEOPLE     comma-separated ``username:category`` (a category the member's agency records in),
                    one per simulated user, taken in turn
    LOAD_PASSWORD   their password
    LOAD_CASE_ID, LOAD_CONFERENCE_ID

Each request is named by its route template, so the figures are per route. Against the bare
server (``bench/load.py``'s baseline) the same people make the same requests.
"""

from __future__ import annotations

import itertools
import os

from locust import HttpUser, between, task

PEOPLE = itertools.cycle(tuple(person.split(":", 1)) for person in os.environ.get("LOAD_PEOPLE", "").split(","))
PASSWORD = os.environ.get("LOAD_PASSWORD", "")
CASE = os.environ.get("LOAD_CASE_ID", "1")
CONFERENCE = os.environ.get("LOAD_CONFERENCE_ID", "1")


class AgencyMember(HttpUser):
    # A person reads, thinks, clicks: about one request a second each.
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        username, self.category = next(PEOPLE)
        self.client.get("/login", name="/login")
        with self.client.post("/login", name="/login", allow_redirects=False, catch_response=True, data={
                "username": username, "password": PASSWORD}, headers=self._csrf()) as answer:
            if answer.status_code == 303:
                answer.success()  # logged in: on to the dashboard
            else:
                answer.failure(f"login refused: {answer.status_code}")

    def _csrf(self) -> dict[str, str]:
        token = self.client.cookies.get("csrftoken")
        return {"x-csrftoken": token} if token else {}

    @task(6)
    def case_page(self) -> None:
        self.client.get(f"/cases/{CASE}", name="/cases/{case_id}")

    @task(3)
    def case_api(self) -> None:
        self.client.get(f"/api/cases/{CASE}", name="/api/cases/{case_id}")

    @task(3)
    def conference_page(self) -> None:
        self.client.get(f"/conferences/{CONFERENCE}", name="/conferences/{conference_id}")

    @task(2)
    def dashboard(self) -> None:
        self.client.get("/", name="/")

    @task(1)
    def record_information(self) -> None:
        self.client.post(f"/api/cases/{CASE}/items", name="/api/cases/{case_id}/items", headers=self._csrf(),
                         json={"category": self.category, "nature": "fact", "text": "Seen at the surgery today."})
