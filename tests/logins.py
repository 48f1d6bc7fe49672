"""Logging in as the tests do, second factor included: people whose role requires one are enrolled
by the fixtures with a known secret (or set it up through the page on their first login), and each
login enters a code for a time step not used before (a used step is refused, as for anyone)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pyotp

from coordinator import second_factor
from coordinator.models import User

TEST_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TEST_RECOVERY_CODES = [f"test{n:01d}-codes" for n in range(10)]


async def enrol_for_tests(session, user: User) -> None:
    """The known factor, as if she had set it up (no step used yet)."""
    user.totp_secret = TEST_TOTP_SECRET
    await second_factor.replace_recovery_codes(session, user.id, TEST_RECOVERY_CODES)


class Factors:
    """What one server's tests know of each person's factor: secret, last step used, recovery codes."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.steps: dict[str, int] = {}
        self.recovery: dict[str, list[str]] = {}

    def code(self, username: str, secret: str | None = None) -> str:
        """A code for a step not yet used: the one before now, now or the next; else a recovery code."""
        secret = secret or self.secrets.get(username, TEST_TOTP_SECRET)
        totp = pyotp.TOTP(secret)
        now = int(time.time() // totp.interval)
        step = max(now - second_factor.DRIFT_STEPS, self.steps.get(username, -1) + 1)
        if step > now + second_factor.DRIFT_STEPS:
            codes = self.recovery.setdefault(username, list(TEST_RECOVERY_CODES))
            return codes.pop()
        self.steps[username] = step
        return totp.generate_otp(step)

    async def finish(self, http: httpx.AsyncClient, response: httpx.Response, username: str,
                     headers: Callable[[], dict[str, str]]) -> httpx.Response:
        """Complete the step the password led to, if any; the answer of the page landed on."""
        path = response.url.path
        if path == "/login/code":
            return await http.post("/login/code", data={"code": self.code(username)}, headers=headers())
        if path == "/account/second-factor":
            secret = re.search(r'data-secret="([A-Z2-7]+)"', response.text).group(1)
            self.secrets[username] = secret
            self.steps.pop(username, None)
            enrolled = await http.post("/account/second-factor", data={"code": self.code(username, secret)},
                                       headers=headers())
            assert enrolled.status_code == 200, enrolled.text
            self.recovery[username] = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", enrolled.text)
            return await http.get(re.search(r'<a href="([^"]+)" role="button">Continue', enrolled.text).group(1))
        return response


def factors_of(holder: object) -> Factors:
    """The Factors kept with an app or a server process, made on first use."""
    if getattr(holder, "test_factors", None) is None:
        holder.test_factors = Factors()
    return holder.test_factors
