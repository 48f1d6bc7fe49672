"""The app's areas in one navigation on every page, each shown to whoever may use it (policy), with
counts where they help: referrals waiting for the reader's agency, closures and overrides to decide.
The page draws the links at once; the counts come from ``/nav`` after the page, so no page waits
for them."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, overrides, policy
from coordinator.lifecycle import closure, referrals
from coordinator.models import User
from coordinator.web.auth import current_actor


@dataclass(frozen=True)
class Area:
    key: str
    label: str
    href: str


def areas(user: User | None, coordinators_manage_users: bool = False) -> list[Area]:
    """The areas this person may open, in the order the navigation shows them."""
    if user is None:
        return []
    can = policy.Permissions(accounts.actor_of(user))
    shown = [Area("cases", "Cases", "/"), Area("conferences", "Conferences", "/conferences")]
    if user.agency is not None:
        shown.append(Area("referrals", "Referrals", "/referrals"))
    if can.search:
        shown.append(Area("search", "Search", "/search"))
    shown.append(Area("directory", "Directory", "/directory"))
    if can.coordinate:
        shown.append(Area("figures", "Figures", "/figures"))
    if can.see_feedback_report:
        shown.append(Area("feedback", "Feedback", "/feedback"))
    if policy.may_manage_users(can.actor, coordinators_manage_users):
        shown.append(Area("accounts", "Accounts", "/admin/users"))
    if policy.may_see_deliveries(can.actor):
        shown.append(Area("deliveries", "Notifications", "/admin/notifications"))
    return shown


@get("/nav")
async def navigation(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    """The navigation again, with its counts."""
    actor = current_actor(request)
    can = policy.Permissions(actor)
    counts = {"referrals": len(await referrals.incoming(db, actor))}
    if can.decide_overrides:
        counts["cases"] = len(await closure.awaiting_decision(db)) + len(await overrides.awaiting_decision(db))
    return Template("_app_nav.html", context={"counts": counts})


ROUTES = [navigation]
