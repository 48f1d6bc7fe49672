"""Single sign-on pages: off to an agency's provider, and back (see ``coordinator.single_sign_on``)."""

from __future__ import annotations

from litestar import Request, get
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import single_sign_on
from coordinator.errors import NotFound
from coordinator.settings import Settings, SignOnProvider
from coordinator.single_sign_on import SignOnRefused, SignOnWaiting
from coordinator.web.auth import login_template, safe_next, site_origin, start_session

STARTED_COOKIE = "ccc_sign_on"  # the signed state, nonce and PKCE verifier of a sign-in under way


def _provider(settings: Settings, agency: str) -> SignOnProvider:
    found = next((p for p in settings.sign_on if p.agency == agency), None)
    if found is None:
        raise NotFound(f"agency {agency!r} has no single sign-on", field="provider")
    return found


def _callback(request: Request, settings: Settings, agency: str) -> str:
    return f"{site_origin(request, settings)}/login/sso/{agency}/callback"


def _cookie(settings: Settings, value: str, max_age: int) -> Cookie:
    # Lax, not strict: the provider sends her back with a top-level navigation from its own site.
    return Cookie(key=STARTED_COOKIE, value=value, path="/login/sso", httponly=True, samesite="lax",
                  secure=settings.secure_cookies, max_age=max_age)


@get("/login/sso/{provider:str}", exclude_from_auth=True, media_type=MediaType.HTML)
async def sign_on(request: Request, state: State, provider: FromPath[str], next: FromQuery[str | None] = None) -> Template | Redirect:
    """Off to the provider of the agency named ``provider`` to sign in there."""
    settings = state.settings
    agency, provider = provider, _provider(settings, provider)
    try:
        url, started = await single_sign_on.start(provider, _callback(request, settings, agency), safe_next(next))
    except SignOnRefused as refusal:  # her agency's provider is down: the password form is still there
        return login_template(settings, error=refusal.message)
    return Redirect(url, status_code=303, cookies=[_cookie(settings, single_sign_on.seal(
        started, settings.secret_key), single_sign_on.STARTED_LIFETIME)])


@get("/login/sso/{provider:str}/callback", exclude_from_auth=True, media_type=MediaType.HTML)
async def signed_on(request: Request, db: NamedDependency[AsyncSession], state: State, provider: FromPath[str],
                    code: FromQuery[str | None] = None) -> Template | Redirect:
    """Back from the provider (with ``code`` and ``state``): her session starts, or she is told why not."""
    settings = state.settings
    agency, provider = provider, _provider(settings, provider)
    started = single_sign_on.unseal(request.cookies.get(STARTED_COOKIE), settings.secret_key)
    try:
        if started is None:
            raise SignOnRefused("This sign-in was not started here, or has expired: start again.")
        identity = await single_sign_on.finish(provider, started, state=request.query_params.get("state"), code=code,
                                               redirect_uri=_callback(request, settings, agency))
        user = await single_sign_on.account_for(db, provider, identity, password_min_length=settings.password_min_length)
    except SignOnWaiting as waiting:
        await db.commit()
        answer = login_template(settings, status=403, notice=waiting.message)
    except SignOnRefused as refusal:
        await db.commit()  # the refusal's audit entry
        answer = login_template(settings, status=403, error=refusal.message)
    else:
        answer = await start_session(request, db, settings, user, started.next, sign_on=agency,
                                     id_token=identity.id_token)
    answer.cookies.append(_cookie(settings, "", 0))  # spent, whatever happened
    return answer


ROUTES = [sign_on, signed_on]
