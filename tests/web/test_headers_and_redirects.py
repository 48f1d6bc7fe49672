"""Security headers on every answer (the router's own 404/405 and error handlers' included), no
caching but of static files, and where an unauthenticated browser or htmx request is sent."""

from urllib.parse import parse_qs, urlsplit

from coordinator.app import SECURITY_HEADERS

HTMX = {"HX-Request": "true"}


def next_of(login_url: str) -> str:
    parts = urlsplit(login_url)
    assert parts.path == "/login"
    return parse_qs(parts.query)["next"][0]


async def test_every_answer_carries_the_security_headers_and_only_static_files_may_be_cached(client_for, people):
    client = await client_for()
    answers = [
        (200, await client.get("/login")),
        (303, await client.get("/", follow_redirects=False)),
        (401, await client.get("/api/me")),
        (404, await client.get("/no/such/page")),  # the router's own
        (405, await client.delete("/login")),  # the router's own
        (403, await client.post("/logout", headers={"x-csrftoken": "forged"})),
        (400, await client.login("x" * 81)),
    ]
    for status, answer in answers:
        assert answer.status_code == status, answer.text
        for header in SECURITY_HEADERS:
            assert answer.headers.get(header.name) == header.value, (status, header.name)
        assert answer.headers.get("cache-control") == "no-store", status
    static = await client.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")
    assert static.headers["content-security-policy"] == SECURITY_HEADERS[0].value


async def test_method_not_allowed_names_the_allowed_methods(client_for):
    answer = await (await client_for()).delete("/login")
    assert answer.status_code == 405
    assert {"GET", "POST"} <= {method.strip() for method in answer.headers["allow"].split(",")}


async def test_an_unauthenticated_htmx_request_is_sent_to_log_in_and_back_to_its_page(client_for, people):
    client = await client_for()
    fragment = await client.get("/cases/7", headers={**HTMX, "HX-Current-URL": "http://testserver.local/cases/7?tab=items"},
                                follow_redirects=False)
    assert fragment.status_code == 401 and "log in first" in fragment.text
    login_url = fragment.headers["hx-redirect"]
    assert next_of(login_url) == "/cases/7?tab=items"
    assert 'value="/cases/7?tab=items"' in (await client.get(login_url)).text
    logged_in = await client.post("/login", data={"username": "pc", "password": "correct horse battery",
                                                  "next": "/cases/7?tab=items"}, follow_redirects=False)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/cases/7?tab=items"


async def test_an_htmx_request_from_another_site_returns_to_the_dashboard(client_for):
    client = await client_for()
    for current in ("https://evil.example/cases/7", "not a url", ""):
        answer = await client.get("/cases/7", headers={**HTMX, "HX-Current-URL": current}, follow_redirects=False)
        assert answer.status_code == 401 and next_of(answer.headers["hx-redirect"]) == "/"


async def test_a_page_sends_to_log_in_and_back_but_a_form_post_returns_to_the_form_page(client_for):
    client = await client_for()
    page = await client.get("/cases/7?tab=items", follow_redirects=False)
    assert page.status_code == 303 and next_of(page.headers["location"]) == "/cases/7?tab=items"
    await client.get("/login")  # the CSRF cookie, as a browser would have it
    post = await client.post("/logout", headers={"Referer": "http://testserver.local/cases/7"}, follow_redirects=False)
    assert post.status_code == 303 and next_of(post.headers["location"]) == "/cases/7"


async def test_login_never_sends_the_user_to_another_site(client_for, people):
    for target in ("//evil.example/", "/\\evil.example/", "https://evil.example/", "/ok\r\nSet-Cookie: x=1", "x" * 3000):
        client = await client_for()
        await client.get("/login")
        answer = await client.post("/login", data={"username": "pc", "password": "correct horse battery",
                                                   "next": target}, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/", target
