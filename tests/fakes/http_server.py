"""HTTP plumbing shared by the fake servers: a threaded loopback server and its thread, a
throwaway TLS certificate, and a JSON server that records every request.

A fake platform subclasses :class:`FakeJSONServer` and implements :meth:`~FakeJSONServer.respond`;
it is used as a context manager. Responses are HTTP/1.0, so each one closes its connection
and no socket outlives a test.

Why not pytest-httpserver (weighed for issue 19): it would replace this module's
plumbing (the threaded server, TLS, request recording: about 150 of the fakes' ~1,900
lines) and nothing else. What the fakes are for is behaviour it does not have and
would take as a catch-all ``respond_with_handler``: every request and response checked
against the installed SDK's models (``databricks_server``, ``fabric_spec``), runs that
stay PENDING/RUNNING for N polls then end as scripted, queued faults with Retry-After,
answers held back past the client's timeout after they took effect. Expectation
matching per URL (its strength) is what these tests avoid: they drive the unchanged
client and assert on the recorded traffic. So the plumbing stays, with no dependency
on werkzeug.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__test__ = False

Reply = tuple[int, dict[str, str], Any]
"""Status, extra headers, and the JSON payload (``None``: an empty body)."""


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any


class ServerThread:
    """``server.serve_forever`` on a daemon thread; :meth:`stop` shuts the server down and closes it."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout)


class SelfSignedTLS:
    """A throwaway self-signed certificate for 127.0.0.1 in a temporary directory.

    ``ca_bundle`` is the certificate (PEM) a client trusts; :meth:`cleanup` deletes both files.
    """

    def __init__(self, prefix: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix=prefix)
        self.ca_bundle, self._key_path = _self_signed(Path(self._tmp.name), prefix.strip("-"))

    def wrap(self, server: ThreadingHTTPServer) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_bundle, self._key_path)
        server.socket = context.wrap_socket(server.socket, server_side=True)

    def cleanup(self) -> None:
        self._tmp.cleanup()


def _self_signed(directory: Path, stem: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class ContextServer:
    """A server that starts on entering a ``with`` block and stops on leaving it."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class FakeJSONServer(ContextServer):
    """A fake service on ``127.0.0.1:<free port>`` (``tls``: HTTPS) answering JSON.

    Every request is recorded in ``requests`` (path without the query, query parsed) and
    answered by :meth:`respond`, called with the server's lock held.
    """

    api_prefix: ClassVar[str] = "/"
    """What :meth:`api_requests` looks for in a path by default."""

    def __init__(self, *, tls: SelfSignedTLS | None = None) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._tls = tls
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        if tls is not None:
            tls.wrap(server)
        self._serving = ServerThread(server)

    @property
    def url(self) -> str:
        port = self._serving.server.server_address[1]
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{port}"

    def start(self) -> Self:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._serving.stop()
        if self._tls is not None:
            self._tls.cleanup()

    def api_requests(self, path_part: str | None = None) -> list[Recorded]:
        part = self.api_prefix if path_part is None else path_part
        return [r for r in self.requests if part in r.path]

    # --- request handling (called on server threads) ----------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> Reply:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        request = Recorded(method, path, query, headers, body)
        with self._lock:
            self.requests.append(request)
            return self.respond(request)

    def respond(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def parse_body(self, raw: bytes, content_type: str) -> Any:
        """The request body as the fake sees it: parsed JSON, or ``None`` when empty."""
        return json.loads(raw) if raw else None


def _handler(fake: FakeJSONServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = fake.parse_body(raw, self.headers.get("Content-Type") or "")
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(self.command, self.path, headers, body)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

    return Handler


__all__ = ["ContextServer", "FakeJSONServer", "Recorded", "Reply", "SelfSignedTLS", "ServerThread"]
