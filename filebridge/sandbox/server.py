"""The HTTP transport: a threaded loopback server that turns sockets into Replies."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .calls import Call
from .control import answer_control, is_control_path
from .replies import Reply, message_body
from .routes import Backend, Request, answer

if TYPE_CHECKING:
    from . import Sandbox

MAX_BODY_BYTES = 10 * 1024 * 1024


class SandboxServer(ThreadingHTTPServer):
    """One thread per connection; handler threads are daemons so stop() never hangs."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], backend: Backend, box: Sandbox
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.backend = backend
        self.box = box
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Skip HTTPServer's reverse DNS lookup (getfqdn), which can take seconds."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeout, drop test) is not an error worth printing."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "SelldoneSandbox/1.0"

    # http.server dispatches on these exact names.
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the call log is the record."""

    def _dispatch(self, method: str) -> None:
        target = self.path
        parts = urlsplit(target)
        raw = self._read_body()
        if is_control_path(parts.path):
            if not _is_loopback(self.client_address[0]):
                self._write(
                    Reply(403, message_body("The control surface is loopback only."))
                )
                return
            self._write(
                answer_control(self.server.box, method, parts.path, _decode(raw))
            )
            return
        backend = self.server.backend
        seq, at = backend.log.begin()
        query = parse_qs(parts.query, keep_blank_values=True)
        body = _decode(raw)
        request = Request(
            method, parts.path, target, query, body, self.headers.get("Authorization")
        )
        try:
            reply = answer(backend, request)
        except BaseException:
            backend.log.finish(seq, None)
            raise
        # Logged before answering, so a client that has its response sees its call.
        backend.log.finish(
            seq, Call(method, parts.path, query, reply.status, body, at, time.time())
        )
        if reply.drop:
            self.close_connection = True
            return
        self._write(reply)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY_BYTES)) if length > 0 else b""

    def _write(self, reply: Reply) -> None:
        if isinstance(reply.body, str):
            data = reply.body.encode()
            content_type = "text/html; charset=UTF-8"
        else:
            data = _encode(reply.body)
            content_type = "application/json"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "max-age=0, private")
        # One request per connection: no idle keep-alive threads outlive a test.
        self.send_header("Connection", "close")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True
        # The client may have given up already (its timeout fired during a delay).
        with contextlib.suppress(ConnectionError):
            self.wfile.write(data)


def _decode(raw: bytes) -> object:
    """JSON when it parses, else the text; None for an empty body.

    Laravel reads an unparsable JSON body as no input at all, so the routes treat any
    non-object body as `{}`.
    """
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed: object = json.loads(text)
    except ValueError:
        return text
    return parsed


def _encode(body: object) -> bytes:
    """Like Laravel's JsonResponse: unicode as \\u escapes and `/` as `\\/`."""
    text = json.dumps(body, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("/", "\\/").encode("ascii")


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
