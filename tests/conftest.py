"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when
COORDINATOR_TEST_DATABASE_URL is set), the app, logged-in clients and users of each agency."""

from __future__ import annotations

import asyncio
import shutil
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import httpx
import pytest

from coordinator import accounts, db, policy
from coordinator.app import create_app, sync_plugins_into_database
from coordinator.plugins import ENTRY_POINT_GROUP, load_agencies
from coordinator.settings import Settings
from tests.databases import PG_URL, empty_schema, empty_tables
from tests.logins import enrol_for_tests, factors_of

PASSWORD = "correct horse battery"


def agency_entry_point(name: str, module: str) -> EntryPoint:
    """An entry point exactly as an installed package would declare it."""
    return EntryPoint(name=name, value=module, group=ENTRY_POINT_GROUP)


def registry_with(*extra: tuple[str, str]):
    return load_agencies([*entry_points(group=ENTRY_POINT_GROUP), *(agency_entry_point(n, m) for n, m in extra)])


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2 at its production cost takes ~0.1 s a hash; tests create many users. The
    hashes stay real argon2, only cheaper (verification reads the cost from the hash)."""
    from argon2 import PasswordHasher

    production = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = production


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    """Migrate once per run; each test then starts from this empty schema. The PostgreSQL
    test database is emptied first, so the run checks the migrations from nothing."""
    if PG_URL:
        asyncio.run(empty_schema(PG_URL))
        db.migrate(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("db") / "template.db"
    db.migrate(f"sqlite+aiosqlite:///{path}")
    return str(path)


@pytest.fixture
async def database_url(migrated_template, tmp_path) -> str:
    if PG_URL:
        await empty_tables(PG_URL)
        return PG_URL
    path = tmp_path / "test.db"
    shutil.copy(migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-key-0123456789", login_max_failures=3)


@pytest.fixture(scope="session")
def registry():
    return registry_with(("housing", "tests.fake_agencies.housing"))


@pytest.fixture
async def sessionmaker(database_url):
    engine = db.create_engine(database_url)
    yield db.create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def make_user(sessionmaker, registry):
    async def make(username: str, agency: str | None = "police", role: str = "member"):
        async with sessionmaker() as session:
            user = await accounts.create_user(session, username=username, agency=agency, role=role,
                                              password=PASSWORD, display_name=username.title(), agencies=registry.keys)
            if policy.second_factor_required(role, Settings().second_factor_roles):
                await enrol_for_tests(session, user)
            await session.commit()
            return user
    return make


@pytest.fixture
async def app(settings, registry):
    """The app in this event loop, without its lifespan (the start-up migration check has
    its own test) but with the plugins' data it writes at start-up; the engine is disposed here,
    in the loop that used it."""
    app = create_app(settings, registry)
    await sync_plugins_into_database(app.state.sessionmaker, registry)
    yield app
    await app.state.engine.dispose()


class Client(httpx.AsyncClient):
    """A browser-like client: keeps cookies and sends the CSRF token on unsafe requests."""

    def __init__(self, app) -> None:  # noqa: ANN001
        super().__init__(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local",
                         follow_redirects=True)
        self.factors = factors_of(getattr(app, "state", app))  # an app, or any ASGI callable wrapping one

    async def login(self, username: str, password: str = PASSWORD, *, second_step: bool = True):
        """Log in; where the password leads to a second step, that too (unless ``second_step`` is False)."""
        await self.get("/login")
        answer = await self.post("/login", data={"username": username, "password": password})
        return await self.factors.finish(self, answer, username, dict) if second_step else answer

    def _csrf(self, kwargs: dict) -> dict:
        headers = dict(kwargs.pop("headers", None) or {})
        token = self.cookies.get("csrftoken")
        if token and "x-csrftoken" not in headers:
            headers["x-csrftoken"] = token
        kwargs["headers"] = headers
        return kwargs

    async def post(self, url, **kwargs):  # noqa: ANN001
        return await super().post(url, **self._csrf(kwargs))

    async def patch(self, url, **kwargs):  # noqa: ANN001
        return await super().patch(url, **self._csrf(kwargs))

    async def put(self, url, **kwargs):  # noqa: ANN001
        return await super().put(url, **self._csrf(kwargs))

    async def delete(self, url, **kwargs):  # noqa: ANN001
        return await super().delete(url, **self._csrf(kwargs))


@pytest.fixture
async def client_for(app):
    """client_for("username") -> a logged-in client; each is its own browser."""
    clients = []

    async def make(username: str | None = None) -> Client:
        client = Client(app)
        clients.append(client)
        if username is not None:
            response = await client.login(username)
            assert response.status_code == 200, response.text  # redirected to the dashboard
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def people(make_user):
    """One coordinator, a supervisor, and a member of each built-in agency and of housing."""
    return {
        "chair": await make_user("chair", "social_work", "coordinator"),
        "supervisor": await make_user("supervisor", "social_work", "supervisor"),
        "police": await make_user("pc", "police"),
        "social_work": await make_user("sw", "social_work"),
        "health": await make_user("doc", "health"),
        "housing": await make_user("hou", "housing"),
    }


REFERRAL = {
    "kind": "domestic_abuse",
    "people": [{"role": "survivor", "name": "Nora"}, {"role": "subject", "name": "Mark"}, {"role": "child", "name": "Ella"}],
    "checklist_score": 15,
    "agencies": ["police", "social_work", "health"],
    "lead_agency": "social_work",
}


@pytest.fixture
async def case(client_for, people):
    """A case with children, the three built-in agencies, created through the API."""
    chair = await client_for("chair")
    response = await chair.post("/api/cases", json=REFERRAL)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def root() -> Path:
    return Path(__file__).resolve().parent.parent
