"""Presigned GETs through http.client: whole bodies, kept-alive connections, early ends, proxies."""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme

from cairn.artifacts.object_get import BUFFER_BYTES, ObjectGetter, ObjectTransportError, _Route
from cairn.http import tls_context
from tests.unit.sdk.fakes import LoopbackServer

BODY = bytes(range(256)) * (3 * BUFFER_BYTES // 256 + 7)  # several buffers and a bit


class ObjectServer(LoopbackServer):
    """HTTP/1.1 with keep-alive. ``/blob`` serves BODY; ``/short`` promises more than it
    sends; ``/missing`` is a 404. ``drop_idle`` closes each connection after one response
    without saying so, as a server whose idle timeout struck would."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.connections = 0
        self.targets: list[str] = []
        self.drop_idle = False
        super().__init__(tls)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                server.connections += 1

            def do_GET(self) -> None:
                server.targets.append(self.path)
                path = urlsplit(self.path).path
                if path == "/missing":
                    self._send(404, b"NoSuchKey: the object is gone")
                elif path == "/short":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"x" * 10)
                    self.close_connection = True
                else:
                    self._send(200, BODY)
                if server.drop_idle:
                    self.close_connection = True

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


class TunnelProxy(LoopbackServer):
    """An HTTP proxy that only tunnels (CONNECT), as in front of an https endpoint."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        super().__init__()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_CONNECT(self) -> None:
                proxy.tunnels.append(self.path)
                host, _, port = self.path.rpartition(":")
                with socket.create_connection((host, int(port))) as upstream:
                    self.send_response(200, "Connection established")
                    self.end_headers()
                    relay(self.connection, upstream)
                self.close_connection = True

        return Handler


def relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    while True:
        readable, _, _ = select.select([a, b], [], [], 5)
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (b if source is a else a).sendall(data)
        if not readable:
            return


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ObjectServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    s = ObjectServer(context)
    yield s
    s.close()


def trusting(ca: trustme.CA) -> ObjectGetter:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return ObjectGetter(tls=context, timeout_s=5, user_agent="test")


@pytest.fixture
def server() -> Iterator[ObjectServer]:
    s = ObjectServer()
    yield s
    s.close()


@pytest.fixture
def getter() -> Iterator[ObjectGetter]:
    g = ObjectGetter(tls=tls_context(), timeout_s=5, user_agent="test")
    yield g
    g.close()


def read(getter: ObjectGetter, url: str) -> bytes:
    with getter.get(url) as response:
        assert response.is_success
        return b"".join(bytes(chunk) for chunk in response.chunks())


def test_bodies_come_whole_over_one_kept_alive_connection(
    server: ObjectServer, getter: ObjectGetter
) -> None:
    assert read(getter, f"{server.url}/blob?X-Amz-Signature=abc") == BODY
    assert read(getter, f"{server.url}/blob") == BODY

    assert server.connections == 1
    assert server.targets == ["/blob?X-Amz-Signature=abc", "/blob"]


def test_an_idle_connection_the_server_dropped_is_replaced_at_once(
    server: ObjectServer, getter: ObjectGetter
) -> None:
    server.drop_idle = True

    assert read(getter, f"{server.url}/blob") == BODY
    assert read(getter, f"{server.url}/blob") == BODY
    assert server.connections == 2


def test_a_body_cut_short_is_a_transport_error(server: ObjectServer, getter: ObjectGetter) -> None:
    with pytest.raises(ObjectTransportError, match="990 bytes early"):
        read(getter, f"{server.url}/short")


def test_an_error_answer_keeps_its_status_and_text(
    server: ObjectServer, getter: ObjectGetter
) -> None:
    with getter.get(f"{server.url}/missing") as response:
        assert (response.status, response.is_success) == (404, False)
        assert "NoSuchKey" in response.text()


def test_no_server_is_a_transport_error(getter: ObjectGetter) -> None:
    with pytest.raises(ObjectTransportError), getter.get("http://127.0.0.1:9/blob"):
        pass


def test_a_plain_http_proxy_gets_the_whole_url(
    server: ObjectServer, getter: ObjectGetter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.url)  # the test server plays the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert read(getter, "http://objects.invalid/blob?sig=1") == BODY
    assert server.targets == ["http://objects.invalid/blob?sig=1"]


def test_https_is_checked_against_the_trust_it_is_given(
    tls_server: ObjectServer, ca: trustme.CA, getter: ObjectGetter
) -> None:
    with closing(trusting(ca)) as trusted:
        assert read(trusted, f"{tls_server.url}/blob") == BODY
    with pytest.raises(ObjectTransportError, match="CERTIFICATE_VERIFY_FAILED"):
        read(getter, f"{tls_server.url}/blob")  # the usual CAs never signed this server


def test_https_through_a_proxy_goes_through_a_tunnel(
    tls_server: ObjectServer, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = TunnelProxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        with closing(trusting(ca)) as getter:
            assert read(getter, f"{tls_server.url}/blob?sig=1") == BODY
    finally:
        proxy.close()

    assert proxy.tunnels == [tls_server.url.removeprefix("https://")]
    assert tls_server.targets == ["/blob?sig=1"]


def test_routes_follow_the_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "minio.local")

    assert _Route.of("https://s3.example.com/b/k").proxy == ("proxy.internal", 3128)
    assert _Route.of("https://minio.local:9000/b/k").proxy is None
    assert _Route.of("http://s3.example.com/b/k") == _Route("http", "s3.example.com", 80, None)
    monkeypatch.setenv("HTTPS_PROXY", "socks5://proxy.internal:1080")
    with pytest.raises(ValueError, match="only http:// proxies"):
        _Route.of("https://s3.example.com/b/k")
