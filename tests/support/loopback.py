"""Requests from chosen loopback source addresses (127.0.0.2, 127.0.0.3, ...: all of 127/8 is loopback on
Linux), and a reverse proxy in front of a served app that appends the connecting client's address to
`X-Forwarded-For`, as nginx's `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for` does."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Not passed on by the proxy: hop-by-hop headers, and those it writes itself.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
_REWRITTEN = frozenset({"content-length", "x-forwarded-for", "server", "date"})


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def send(
    base_url: str,
    method: str,
    path: str,
    *,
    source: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Answer:
    """One request to `base_url` over a fresh connection from the loopback address `source`."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


class _Forwarder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in _HOP_BY_HOP and name.lower() not in _REWRITTEN
        }
        # $proxy_add_x_forwarded_for: whatever the client sent, then the address that connected here.
        headers["X-Forwarded-For"] = ", ".join(
            [*(self.headers.get_all("X-Forwarded-For") or []), self.client_address[0]]
        )
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=10)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        finally:
            upstream.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() not in _REWRITTEN:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, format, *args) -> None:  # quiet: no line per request
        pass


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: tuple[str, int]):
        super().__init__(("127.0.0.1", 0), _Forwarder)
        self.upstream = upstream


@contextmanager
def reverse_proxy(upstream_url: str) -> Iterator[str]:
    """Yield the base URL of a proxy on 127.0.0.1 forwarding to `upstream_url`; stop it afterwards."""
    parts = urlsplit(upstream_url)
    assert parts.hostname and parts.port
    server = _ProxyServer((parts.hostname, parts.port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
