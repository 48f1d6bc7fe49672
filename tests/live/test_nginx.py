"""deploy/nginx/coordinator.conf as shipped (only its ports and certificate paths swapped), with
Debian's nginx in front of `coordinator serve --workers 2` on PostgreSQL and Redis: a live
conference over HTTPS and a websocket through the proxy, Secure cookies, the client's address
and the request id passed on, a body above the server's limit answered by the server, and plain
http sent to https."""

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conference_scenario import CALL_OUTS, PASSWORD
from tests.live.clients import Person
from tests.live.server import ROOT, ServerProcess
from tests.live.test_two_servers import REDIS_URL, answering, two_processes, unavailable

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = ROOT / "deploy" / "nginx" / "coordinator.conf"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    certificate, key = folder / "coordinator.pem", folder / "coordinator.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True, timeout=60)
    return certificate, key


def site_for(upstream: str, https_port: int, http_port: int, certificate: Path, key: Path) -> str:
    """The shipped site with this test's ports and files: every other line as deployed."""
    site = SITE.read_text()
    for deployed, here in (("server 127.0.0.1:8000;", f"server {upstream};"),
                           ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                           ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                           ("/etc/ssl/certs/coordinator.pem", str(certificate)),
                           ("/etc/ssl/private/coordinator.key", str(key))):
        assert deployed in site, deployed
        site = site.replace(deployed, here)
    return "\n".join(line for line in site.splitlines() if "[::]" not in line)  # no IPv6 in the test


@pytest.fixture
def nginx(tmp_path):
    """nginx(upstream) -> the https base URL, the plain http port and the certificate of Debian's nginx
    serving the shipped site."""
    started = []

    def start(upstream: str) -> tuple[str, int, Path]:
        certificate, key = self_signed(tmp_path)
        https_port, http_port = free_port(), free_port()
        (tmp_path / "site.conf").write_text(site_for(upstream, https_port, http_port, certificate, key))
        (tmp_path / "nginx.conf").write_text(f"""
            worker_processes 1;
            pid {tmp_path}/nginx.pid;
            error_log {tmp_path}/error.log warn;
            {"user root;" if os.geteuid() == 0 else ""}
            events {{ worker_connections 256; }}
            http {{
                access_log {tmp_path}/access.log;
                client_body_temp_path {tmp_path}/body;
                proxy_temp_path {tmp_path}/proxy;
                fastcgi_temp_path {tmp_path}/fastcgi;
                uwsgi_temp_path {tmp_path}/uwsgi;
                scgi_temp_path {tmp_path}/scgi;
                include {tmp_path}/site.conf;
            }}""")
        process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                                    "-g", "daemon off;"], stderr=subprocess.PIPE)
        started.append(process)
        return f"https://127.0.0.1:{https_port}", http_port, certificate

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


@two_processes
async def test_a_live_conference_through_the_shipped_nginx_over_https(servers, nginx, scenario):
    if not Path(NGINX).exists():
        unavailable("Debian's nginx is not installed (apt-get install nginx-light)")
    if not answering(REDIS_URL):
        unavailable(f"Redis does not answer at {REDIS_URL}")
    app = servers(channels_url=REDIS_URL, channels_prefix=f"test{uuid.uuid4().hex[:10]}", workers=2,
                  env={"COORDINATOR_SECURE_COOKIES": "1"})
    base_url, http_port, certificate = nginx(app.base_url.removeprefix("http://"))
    tls = ssl.create_default_context(cafile=str(certificate))
    async with asyncio.timeout(30):  # nginx is up once it answers
        while True:
            try:
                async with httpx.AsyncClient(verify=tls) as probe:
                    if (await probe.get(base_url + "/health")).status_code == 200:
                        break
            except httpx.TransportError:
                await asyncio.sleep(0.1)

    proxied = ServerProcess(app.process, base_url, app.log_path)
    chair, pc, sw = [Person(proxied, name, tls) for name in ("chair", "pc", "sw")]
    try:
        for person in (chair, pc, sw):
            await person.login(PASSWORD)
        assert all(cookie.secure for cookie in chair.http.cookies.jar)  # Secure, and sent back over https
        pages = [await person.open_page(scenario.conference_id) for person in (pc, sw)]  # wss:// through nginx
        assert all(CALL_OUTS in page.part("case") for page in pages)
        noted = await chair.api("POST", f"/api/conferences/{scenario.conference_id}/notes", {
            "case_id": scenario.case_a, "kind": "decision", "text": "Refer to the refuge"})
        assert noted.status_code == 200, noted.text
        for page in pages:
            await page.wait_until("notes", "Refer to the refuge")

        too_big = await chair.http.post("/api/cases", content=b"{" + b" " * 1_100_000 + b"}",
                                         headers={**chair._csrf(), "content-type": "application/json"})
        assert too_big.status_code == 413 and too_big.json()["status_code"] == 413  # the server's answer
        request_id = (await chair.http.get("/health")).headers["x-request-id"]
        assert len(request_id) == 32  # nginx's $request_id, kept by the server and logged with the request
        records = [json.loads(line) for line in app.log().splitlines()[1:] if line.strip()]
        assert [r["route"] for r in records if r.get("request_id") == request_id] == ["/health"]

        # The server sees the address nginx forwards: here the test's own loopback, allowed to read
        # the metrics; an address from outside is refused them.
        assert (await chair.http.get("/metrics")).status_code == 200
        outside = await chair.http.get("/metrics", headers={"x-forwarded-for": "203.0.113.7"})
        assert outside.status_code == 403
        async with httpx.AsyncClient() as plain:  # plain http is sent to https
            moved = await plain.get(f"http://127.0.0.1:{http_port}/login")
        assert moved.status_code == 301 and moved.headers["location"].startswith("https://")
        for page in pages:
            await page.close()
    finally:
        for person in (chair, pc, sw):
            await person.close()
