"""How many examples the property, state-machine, fuzzing and race tests try.

CI (CI=true) runs the whole suite twice, on SQLite and then on PostgreSQL with Redis, on a two-core
machine within its time budget, so each of these tests names a bounded count for CI and a larger one
for a workstation. ``COORDINATOR_EXAMPLES=N`` sets every count at once: 3 while changing a test, 500
for a long soak before a release."""

from __future__ import annotations

import os

IN_CI = os.environ.get("CI") == "true"


def examples(ci: int, workstation: int) -> int:
    if override := os.environ.get("COORDINATOR_EXAMPLES"):
        return int(override)
    return ci if IN_CI else workstation
