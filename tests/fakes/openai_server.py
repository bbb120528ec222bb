"""An OpenAI-compatible chat completions server on loopback, for tests.

Real sockets and real HTTP, so the production client runs unchanged (auth
headers, retries, error mapping); the state is in memory. It serves

* ``POST /v1/chat/completions`` (``Authorization: Bearer <key>``), and
* ``POST /openai/deployments/{deployment}/chat/completions?api-version=…``
  (Azure style, ``api-key: <key>``),

records every request, answers with queued :class:`ChatReply` values (or the
default one), and plays queued :class:`Fault` values first: 429 with
``Retry-After``, 5xx, 401/403, slow answers, malformed bodies.

    with FakeOpenAIServer() as server:
        server.fail_next(Fault.rate_limited("2"))
        ...  # point a client at server.openai_base_url
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.http_server import ContextServer, ServerThread

_AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/chat/completions$")
_OPENAI_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names in lower case."""
    body: Any
    """The parsed JSON body, or ``None`` when it was not JSON."""


@dataclass(frozen=True)
class ChatReply:
    content: str = '{"ok": true}'
    prompt_tokens: int | None = 12
    completion_tokens: int | None = 5
    model: str | None = None
    """Model reported in the body; ``None`` echoes the requested model or deployment."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers (e.g. a gateway's ``x-litellm-model-name``)."""


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour. ``body=None`` means "the normal reply"."""

    status: int = 500
    body: str | None = '{"error": {"message": "injected fault", "type": "server_error"}}'
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    content_type: str = "application/json"

    @classmethod
    def rate_limited(cls, retry_after: str | None = None) -> Fault:
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        body = '{"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}}'
        return cls(status=429, body=body, headers=headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status=status)

    @classmethod
    def unauthorized(cls) -> Fault:
        return cls(status=401, body='{"error": {"message": "Incorrect API key provided"}}')

    @classmethod
    def forbidden(cls) -> Fault:
        return cls(status=403, body='{"error": {"message": "Forbidden"}}')

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        return cls(status=200, body=None, delay_seconds=seconds)

    @classmethod
    def malformed(cls, body: str = '{"choices": [ this is not json') -> Fault:
        return cls(status=200, body=body)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    delay_seconds: float = 0.0


class FakeOpenAIServer(ContextServer):
    """Start with ``with FakeOpenAIServer() as server:``; ``server.requests`` records traffic."""

    def __init__(self, *, api_key: str = "sk-fake-test-key-0123456789") -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self.default_reply = ChatReply()
        self._faults: deque[Fault] = deque()
        self._replies: deque[ChatReply] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._serving: ServerThread | None = None

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        self._serving = ServerThread(self._httpd)
        self._serving.start()
        return self

    def stop(self) -> None:
        self._released.set()  # wake slow handlers so they finish now
        if self._serving is not None:
            self._serving.stop(timeout=5)  # server_close joins the handler threads
        self._httpd = None
        self._serving = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAIServer is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    # --- scripting --------------------------------------------------------------

    def fail_next(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def reply_with(self, *replies: ChatReply) -> None:
        with self._lock:
            self._replies.extend(replies)

    # --- request handling (called from handler threads) ------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Answer:
        parts = urlsplit(target)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(
                RecordedRequest(method, parts.path, dict(parse_qsl(parts.query)), headers, body)
            )
            return self._answer(method, parts.path, dict(parse_qsl(parts.query)), headers, body)

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> _Answer:
        azure = _AZURE_PATH.match(path)
        if method != "POST" or (path != _OPENAI_PATH and azure is None):
            return _error(404, "Resource not found")
        if azure is not None and "api-version" not in query:
            return _error(404, "Resource not found: missing api-version")
        supplied = headers.get("api-key") if azure else headers.get("authorization")
        expected = self.api_key if azure else f"Bearer {self.api_key}"
        if supplied != expected:
            return _error(401, "Incorrect API key provided")
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.body is not None:
            headers_out = {"Content-Type": fault.content_type, **fault.headers}
            return _Answer(fault.status, fault.body.encode(), headers_out, fault.delay_seconds)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "'messages' is a required property")
        reply = self._replies.popleft() if self._replies else self.default_reply
        requested = azure.group("deployment") if azure else str(body.get("model", ""))
        payload = _completion_body(reply, reply.model or requested)
        delay = fault.delay_seconds if fault is not None else 0.0
        return _Answer(200, payload, {"Content-Type": "application/json", **reply.headers}, delay)

    def wait_released(self, seconds: float) -> None:
        self._released.wait(seconds)


def _error(status: int, message: str) -> _Answer:
    body = json.dumps({"error": {"message": message, "code": status}}).encode()
    return _Answer(status, body, {"Content-Type": "application/json"})


def _completion_body(reply: ChatReply, model: str) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "stop",
            }
        ],
    }
    if reply.prompt_tokens is not None and reply.completion_tokens is not None:
        body["usage"] = {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
    return json.dumps(body).encode()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        fake: FakeOpenAIServer,
    ) -> None:
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            self.fake.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = fake.handle(self.command, self.path, headers, raw)
        if answer.delay_seconds:
            fake.wait_released(answer.delay_seconds)
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (it timed out); there is nobody to answer

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # keep test output quiet; ``FakeOpenAIServer.requests`` records traffic


__all__ = ["ChatReply", "FakeOpenAIServer", "Fault", "RecordedRequest"]
