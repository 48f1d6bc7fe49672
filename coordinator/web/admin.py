"""Administration of accounts (``/admin/users``) and the public set-password page its links open,
as page forms and their JSON twins."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Response, Template
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, administration, delivery, policy, second_factor, single_sign_on
from coordinator.administration import IssuedLink, UserChangeIn, UserIn
from coordinator.errors import DomainError, Invalid
from coordinator.limits import Line
from coordinator.models import User
from coordinator.notifications import KINDS
from coordinator.plugins import AgencyRegistry
from coordinator.settings import Settings
from coordinator.web.auth import current_actor
from coordinator.web.forms import FORM, from_form

LinkToken = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]
DONE = {"changed": "The account is changed; its sessions have ended.", "deactivated": "The account is deactivated.",
        "reactivated": "The account is reactivated.", "factor_reset": "The second factor is reset; its sessions have ended.",
        "sign_in_approved": "The account is made, as a member: she can sign in with her agency now.",
        "sign_in_dismissed": "The request is turned away."}


def user_json(user: User) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "agency": user.agency,
            "role": user.role, "active": user.active, "second_factor": user.totp_secret is not None}


def link_url(request: Request, link: IssuedLink) -> str:
    return f"{str(request.base_url).rstrip('/')}/set-password/{link.token}"


def link_json(request: Request, link: IssuedLink) -> dict:
    return {"set_password_link": link_url(request, link), "expires_at": link.expires_at}


async def _page(request: Request, db: AsyncSession, settings: Settings, registry: AgencyRegistry, *,
                status: int = 200, **extra: object) -> Template:
    actor, manage = current_actor(request), settings.coordinators_manage_users
    users = await administration.users_managed(db, actor, manage)
    agencies = [key for key in registry.keys if policy.may_grant(actor, "member", key, manage)]
    context = {
        "users": users, "agencies": agencies, "notice": None, "error": None, "row_error": None, "values": {},
        "issued": None, "link_minutes": settings.password_link_minutes,
        "roles": [r for r in policy.USER_ROLES if any(policy.may_grant(actor, r, a, manage) for a in [*agencies, None])],
        "can_change": {u.id: policy.may_change_account(actor, u.id, u.role, u.agency, manage) for u in users},
        "can_reset": {u.id: policy.may_reset_second_factor(actor, u.id) for u in users},
        "passkey_holders": await second_factor.passkey_holders(db),
        "sign_in_requests": await single_sign_on.requests_for(db, actor, manage),
    }
    return Template("admin_users.html", status_code=status, context=context | extra)


@get("/admin/users")
async def users_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                     registry: NamedDependency[AgencyRegistry], done: FromQuery[str | None] = None) -> Template:
    return await _page(request, db, settings, registry, notice=DONE.get(done or ""))


def _issued(request: Request, user: User, link: IssuedLink) -> dict:
    return {"user": user, "url": link_url(request, link), "expires_at": link.expires_at}


@post("/admin/users", opt={FORM: UserIn})
async def create_user_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                           registry: NamedDependency[AgencyRegistry]) -> Template:
    form = await request.form()
    try:
        user, link = await _create(request, db, settings, registry, from_form(UserIn, form))
    except DomainError as error:
        await db.rollback()
        values = {name: form.get(name) for name in ("username", "display_name", "role", "agency")}
        return await _page(request, db, settings, registry, status=error.status, error=error, values=values)
    return await _page(request, db, settings, registry, issued=_issued(request, user, link))


async def _create(request: Request, db: AsyncSession, settings: Settings, registry: AgencyRegistry,
                  data: UserIn) -> tuple[User, IssuedLink]:
    created = await administration.create_account_with_link(
        db, current_actor(request), data, agencies=registry.keys, minutes=settings.password_link_minutes,
        coordinators_manage=settings.coordinators_manage_users)
    await db.commit()
    return created


async def _row_change(request: Request, db: AsyncSession, settings: Settings, registry: AgencyRegistry,
                      user_id: int | None, change, done: str) -> Response:  # noqa: ANN001
    """Run one row's change; its refusal is shown on its row (an account's, or at the top of the
    page), the rest of the page as it was."""
    try:
        await change()
        await db.commit()
    except DomainError as error:
        await db.rollback()
        if error.status == 404:
            raise
        shown = {"row_error": (user_id, error)} if user_id is not None else {"error": error}
        return await _page(request, db, settings, registry, status=error.status, **shown)
    return Redirect(f"/admin/users?done={done}", status_code=303)


@post("/admin/users/{user_id:int}", opt={FORM: UserChangeIn})
async def change_user_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                           registry: NamedDependency[AgencyRegistry], user_id: FromPath[int]) -> Response:
    form = await request.form()
    return await _row_change(request, db, settings, registry, user_id, lambda: administration.change_account(
        db, current_actor(request), user_id, from_form(UserChangeIn, form), agencies=registry.keys,
        coordinators_manage=settings.coordinators_manage_users), "changed")


def _activation(active: bool, path: str, done: str):  # noqa: ANN202
    @post(path, name=f"{done}_user_page")
    async def handler(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      registry: NamedDependency[AgencyRegistry], user_id: FromPath[int]) -> Response:
        return await _row_change(request, db, settings, registry, user_id, lambda: administration.set_active(
            db, current_actor(request), user_id, active, coordinators_manage=settings.coordinators_manage_users), done)
    return handler


deactivate_user_page = _activation(False, "/admin/users/{user_id:int}/deactivate", "deactivated")
reactivate_user_page = _activation(True, "/admin/users/{user_id:int}/reactivate", "reactivated")


@post("/admin/users/{user_id:int}/password-link")
async def password_link_page(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                             registry: NamedDependency[AgencyRegistry], user_id: FromPath[int]) -> Template:
    """The link is shown on this answer only (never in a URL the browser keeps)."""
    link = await _issue(request, db, settings, user_id)
    user = await db.get(User, user_id)
    return await _page(request, db, settings, registry, issued=_issued(request, user, link))


async def _issue(request: Request, db: AsyncSession, settings: Settings, user_id: int) -> IssuedLink:
    link = await administration.issue_password_link(db, current_actor(request), user_id,
                                                    minutes=settings.password_link_minutes,
                                                    coordinators_manage=settings.coordinators_manage_users)
    await db.commit()
    return link


@post("/admin/users/{user_id:int}/second-factor/reset")
async def reset_second_factor_page(request: Request, db: NamedDependency[AsyncSession],
                                   settings: NamedDependency[Settings], registry: NamedDependency[AgencyRegistry],
                                   user_id: FromPath[int]) -> Response:
    return await _row_change(request, db, settings, registry, user_id, lambda: second_factor.reset(
        db, current_actor(request), user_id), "factor_reset")


def _sign_in_request(approve: bool, done: str):  # noqa: ANN202
    """Let in, or turn away, someone her agency's sign-in vouched for who has no account yet."""
    @post(f"/admin/sign-in-requests/{{request_id:int}}/{'approve' if approve else 'dismiss'}", name=f"{done}_page")
    async def handler(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      registry: NamedDependency[AgencyRegistry], request_id: FromPath[int]) -> Response:
        actor, manage = current_actor(request), settings.coordinators_manage_users
        if approve:
            change = partial(single_sign_on.approve, db, actor, request_id, coordinators_manage=manage,
                             password_min_length=settings.password_min_length)
        else:
            change = partial(single_sign_on.dismiss, db, actor, request_id, coordinators_manage=manage)
        return await _row_change(request, db, settings, registry, None, change, done)
    return handler


approve_sign_in_page = _sign_in_request(True, "sign_in_approved")
dismiss_sign_in_page = _sign_in_request(False, "sign_in_dismissed")


# --- the set-password page a link opens (no login: the link is the proof) -------------------

@get("/set-password/{token:str}", exclude_from_auth=True)
async def set_password_page(db: NamedDependency[AsyncSession], token: FromPath[LinkToken]) -> Template:
    user = await administration.user_of_link(db, token)
    return Template("set_password.html", context={"username": user.username, "token": token, "error": None})


@dataclass
class NewPasswordIn:
    """The set-password form (read as typed: spaces are part of a password; its shortest length is a setting)."""

    new_password: Line(accounts.PASSWORD_MAX_LENGTH)


@post("/set-password/{token:str}", exclude_from_auth=True, opt={FORM: NewPasswordIn})
async def set_password(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                       token: FromPath[LinkToken]) -> Response:
    form = await request.form()
    new_password = value if isinstance(value := form.get("new_password"), str) else ""
    try:
        await administration.set_password_with_link(db, token, new_password, min_length=settings.password_min_length)
    except Invalid as error:
        user = await administration.user_of_link(db, token)
        return Template("set_password.html", status_code=400,
                        context={"username": user.username, "token": token, "error": error})
    await db.commit()
    return Redirect("/login?done=password", status_code=303)


# --- JSON ----------------------------------------------------------------------------------------

@get("/admin/notifications")
async def deliveries_page(request: Request, db: NamedDependency[AsyncSession]) -> Template:
    """Notifications that could not be delivered (and those being retried), for administrators."""
    policy.require_delivery_reader(current_actor(request))
    counts, troubles = await delivery.delivery_report(db)
    return Template("admin_notifications.html", context={"counts": counts, "troubles": troubles, "kinds": KINDS})


@get("/api/admin/notifications")
async def deliveries(request: Request, db: NamedDependency[AsyncSession]) -> dict:
    """The outbox by status (waiting, sent, failed, withheld), and the latest notifications that failed
    or are being retried, with the recipient and the last error."""
    policy.require_delivery_reader(current_actor(request))
    counts, troubles = await delivery.delivery_report(db)
    return {"counts": counts, "troubles": [
        {"id": t.notification.id, "kind": t.notification.kind, "reference": t.notification.reference,
         "recipient": t.recipient, "status": t.notification.status, "attempts": t.notification.attempts,
         "last_error": t.notification.last_error, "created_at": t.notification.created_at,
         "next_attempt_at": t.notification.next_attempt_at} for t in troubles]}


@get("/api/admin/users")
async def list_users(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings]) -> list[dict]:
    """The accounts the caller administers."""
    return [user_json(u) for u in await administration.users_managed(
        db, current_actor(request), settings.coordinators_manage_users)]


@post("/api/admin/users")
async def create_user(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      registry: NamedDependency[AgencyRegistry], data: JSONBody[UserIn]) -> dict:
    """A new account, and the one-time link with which its owner sets her password (shown once)."""
    user, link = await _create(request, db, settings, registry, data)
    return user_json(user) | link_json(request, link)


@post("/api/admin/users/{user_id:int}", status_code=200)
async def change_user(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      registry: NamedDependency[AgencyRegistry], user_id: FromPath[int],
                      data: JSONBody[UserChangeIn]) -> dict:
    """A new role and agency; the account's sessions end."""
    user = await administration.change_account(db, current_actor(request), user_id, data, agencies=registry.keys,
                                               coordinators_manage=settings.coordinators_manage_users)
    await db.commit()
    return user_json(user)


def _activation_json(active: bool, path: str, name: str):  # noqa: ANN202
    @post(path, status_code=200, name=name)
    async def handler(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                      user_id: FromPath[int]) -> dict:
        user = await administration.set_active(db, current_actor(request), user_id, active,
                                               coordinators_manage=settings.coordinators_manage_users)
        await db.commit()
        return user_json(user)
    return handler


deactivate_user = _activation_json(False, "/api/admin/users/{user_id:int}/deactivate", "deactivate_user")
reactivate_user = _activation_json(True, "/api/admin/users/{user_id:int}/reactivate", "reactivate_user")


@post("/api/admin/users/{user_id:int}/password-link", status_code=201)
async def password_link(request: Request, db: NamedDependency[AsyncSession], settings: NamedDependency[Settings],
                        user_id: FromPath[int]) -> dict:
    """A one-time set-password link for the account (shown once; earlier links stop working)."""
    return link_json(request, await _issue(request, db, settings, user_id))


@post("/api/admin/users/{user_id:int}/second-factor/reset", status_code=200)
async def reset_second_factor(request: Request, db: NamedDependency[AsyncSession], user_id: FromPath[int]) -> dict:
    """Remove the account's second factor (a lost phone): its sessions end; where the role requires
    one, its owner sets up a new one at her next login."""
    user = await second_factor.reset(db, current_actor(request), user_id)
    await db.commit()
    return user_json(user)


ROUTES = [deliveries_page, deliveries, approve_sign_in_page, dismiss_sign_in_page, reset_second_factor_page,
          reset_second_factor, users_page, create_user_page, change_user_page, deactivate_user_page, reactivate_user_page,
          password_link_page, set_password_page, set_password,
          list_users, create_user, change_user, deactivate_user, reactivate_user, password_link]
