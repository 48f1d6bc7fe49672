"""Real receivers for notifications: an SMTP server (aiosmtpd) and an HTTP endpoint that checks
each webhook's Standard Webhooks signature, both in threads of the test process."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from standardwebhooks import Webhook


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Mail:
    to: list[str]
    message_id: str
    subject: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.body}"


class MailServer:
    """Every message the server accepts, in order."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Mail] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 (aiosmtpd's hook)
        mail = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Mail(list(envelope.rcpt_tos), mail["Message-ID"], mail["Subject"],
                                  mail.get_content()))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> MailServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@dataclass
class Delivery:
    path: str
    message_id: str
    body: str


@dataclass
class WebhookReceiver:
    """Takes signed messages for endpoints registered with their secret (by path); refuses (401) a
    message whose signature does not verify; answers 503 while ``down``."""

    port: int = field(default_factory=free_port)
    secrets: dict[str, str] = field(default_factory=dict)
    received: list[Delivery] = field(default_factory=list)
    refused: int = 0
    down: bool = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.down:
                    self.send_response(503)
                else:
                    try:
                        Webhook(receiver.secrets[self.path]).verify(body, dict(self.headers))
                    except Exception:  # unknown endpoint or a bad signature
                        receiver.refused += 1
                        self.send_response(401)
                    else:
                        receiver.received.append(Delivery(self.path, self.headers["webhook-id"], body.decode()))
                        self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
