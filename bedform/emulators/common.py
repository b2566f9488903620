"""Building blocks shared by the testbed API emulators.

A virtual clock, request/response objects, a request log, HTTP fault injection,
a base application that serves the ``/_emulator/`` control endpoints, and a
threaded loopback HTTP server that runs an application in a background thread.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
CONTROL_PREFIX = "/_emulator"


class VirtualClock:
    """A clock that runs at ``speed`` times real time and can be moved forward.

    ``now()`` is ``epoch + speed * (real time elapsed) + explicit advances``.
    ``speed=0`` freezes it: only :meth:`advance` moves it, which makes runs
    fully deterministic.
    """

    def __init__(
        self,
        epoch: float | None = None,
        speed: float = 1.0,
        real: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._real = real
        self._lock = threading.Lock()
        self._base_virtual = time.time() if epoch is None else float(epoch)
        self._base_real = real()
        self._speed = float(speed)

    def _rebase(self) -> None:
        real = self._real()
        self._base_virtual += self._speed * (real - self._base_real)
        self._base_real = real

    def now(self) -> float:
        """Current virtual time, as epoch seconds."""
        with self._lock:
            return self._base_virtual + self._speed * (self._real() - self._base_real)

    @property
    def speed(self) -> float:
        """Virtual seconds per real second."""
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on (the current time is kept)."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            self._rebase()
            self._speed = float(speed)

    def advance(self, seconds: float) -> float:
        """Jump forward by ``seconds`` (never backwards); return the new time."""
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        with self._lock:
            self._rebase()
            self._base_virtual += seconds
            return self._base_virtual

    def set(self, epoch: float) -> None:
        """Set the current virtual time (used by resets)."""
        with self._lock:
            self._base_real = self._real()
            self._base_virtual = float(epoch)


class ApiError(Exception):
    """An error answered to the client: status code and plain-text message."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class Request:
    """One HTTP request as seen by an emulator application."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: Message | dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        """Header value (case-insensitive lookup)."""
        if isinstance(self.headers, Message):
            return self.headers.get(name, default)
        lowered = {k.lower(): v for k, v in self.headers.items()}
        return lowered.get(name.lower(), default)

    def json(self, error_prefix: str = "Invalid JSON body") -> Any:
        """The body parsed as JSON, or an ``ApiError(400)``."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(400, f"{error_prefix}: {exc}") from None


@dataclass
class Response:
    """An HTTP answer."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer with ``Content-Type: application/json; charset=utf-8``."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(status, body, JSON_TYPE, dict(headers or {}))


def text_response(
    message: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A plain-text answer (how the real APIs render their errors)."""
    return Response(status, message.encode(), TEXT_TYPE, dict(headers or {}))


class RequestLog:
    """Thread-safe record of the requests an emulator answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []

    def record(self, entry: dict[str, Any]) -> None:
        """Append one entry."""
        with self._lock:
            self._items.append(entry)

    def items(self) -> list[dict[str, Any]]:
        """A copy of the entries, oldest first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._items.clear()


@dataclass
class HttpFault:
    """Answer ``status`` (and/or wait ``latency_ms``) to matching requests.

    ``method`` and ``path`` are regular expressions (method matched in full,
    case-insensitively; path searched in the request path without query).
    ``count`` is the number of requests it applies to (``None``: unlimited).
    """

    uid: int
    path: str = ".*"
    method: str = ".*"
    status: int | None = None
    latency_ms: float = 0.0
    count: int | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request."""
        return bool(re.fullmatch(self.method, method, re.IGNORECASE) and re.search(self.path, path))

    def to_dict(self) -> dict[str, Any]:
        """JSON view."""
        return {
            "uid": self.uid,
            "kind": "http",
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "count": self.count,
            "message": self.message,
        }


class FaultInjector:
    """Thread-safe list of :class:`HttpFault` rules, consumed as they fire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[HttpFault] = []
        self._next = 1

    def add(
        self,
        path: str = ".*",
        method: str = ".*",
        status: int | None = None,
        latency_ms: float = 0.0,
        count: int | None = None,
        message: str | None = None,
    ) -> HttpFault:
        """Register a rule; regexes are validated here."""
        re.compile(path)
        re.compile(method)
        if status is not None and not 100 <= int(status) <= 599:
            raise ValueError("status must be an HTTP status code")
        if count is not None and int(count) < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            rule = HttpFault(
                self._next,
                path,
                method,
                None if status is None else int(status),
                float(latency_ms),
                None if count is None else int(count),
                message,
            )
            self._next += 1
            self._rules.append(rule)
            return rule

    def take(self, method: str, path: str) -> HttpFault | None:
        """The first rule matching the request, consuming one of its uses."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def rules(self) -> list[HttpFault]:
        """The active rules."""
        with self._lock:
            return list(self._rules)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()


def normalize_path(path: str) -> str:
    """Collapse duplicate slashes and drop a trailing one (except for ``/``)."""
    path = re.sub("/{2,}", "/", path or "/")
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path


class BaseEmulatorApp:
    """An emulator application: API requests plus the ``/_emulator/`` controls.

    Subclasses implement :meth:`handle_api`, :meth:`reset_state` and optionally
    :meth:`handle_control` for extra control endpoints and :meth:`add_fault` for
    fault kinds other than ``http``. Every API request goes through the fault
    injector and the global latency, and is recorded in the request log.
    """

    def __init__(self, clock: VirtualClock, latency_ms: float = 0.0) -> None:
        self.clock = clock
        self.latency_ms = float(latency_ms)
        self.log = RequestLog()
        self.faults = FaultInjector()
        self._inflight = 0
        self._inflight_lock = threading.Lock()

    # -- to be provided by subclasses ------------------------------------
    def handle_api(self, request: Request) -> Response:
        """Answer one API request (not a control one)."""
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget every object created through the API."""
        raise NotImplementedError

    def handle_control(self, request: Request, parts: list[str]) -> Response | None:
        """Extra control endpoints; ``None`` when the path is unknown."""
        return None

    def add_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Register a fault from its JSON description; return its JSON view."""
        kind = spec.get("kind", "http")
        if kind != "http":
            raise ApiError(400, f"unknown fault kind {kind!r}")
        try:
            rule = self.faults.add(
                path=str(spec.get("path", ".*")),
                method=str(spec.get("method", ".*")),
                status=spec.get("status"),
                latency_ms=float(spec.get("latency_ms", 0) or 0),
                count=spec.get("count"),
                message=spec.get("message"),
            )
        except (ValueError, TypeError, re.error) as exc:
            raise ApiError(400, f"invalid fault: {exc}") from None
        return rule.to_dict()

    def list_faults(self) -> list[dict[str, Any]]:
        """JSON view of the active faults."""
        return [rule.to_dict() for rule in self.faults.rules()]

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    # -- dispatch --------------------------------------------------------
    def __call__(self, request: Request) -> Response:
        request.path = normalize_path(request.path)
        if request.path == CONTROL_PREFIX or request.path.startswith(CONTROL_PREFIX + "/"):
            return self._control(request)
        with self._inflight_lock:
            self._inflight += 1
        try:
            return self._answer(request)
        finally:
            with self._inflight_lock:
                self._inflight -= 1

    def _answer(self, request: Request) -> Response:
        started = time.monotonic()
        fault = self.faults.take(request.method, request.path)
        delay = self.latency_ms + (fault.latency_ms if fault else 0.0)
        if delay > 0:
            time.sleep(delay / 1000.0)
        if fault is not None and fault.status is not None:
            message = fault.message or f"Injected fault: HTTP {fault.status}"
            response = text_response(message, fault.status)
        else:
            try:
                response = self.handle_api(request)
            except ApiError as exc:
                response = text_response(exc.message, exc.status, exc.headers)
        self.log.record(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "status": response.status,
                "time": self.clock.now(),
                "duration_ms": round((time.monotonic() - started) * 1000.0, 3),
            }
        )
        return response

    def clock_view(self) -> dict[str, Any]:
        """JSON view of the clock."""
        return {"now": self.clock.now(), "speed": self.clock.speed}

    def _control(self, request: Request) -> Response:
        parts = [p for p in request.path[len(CONTROL_PREFIX) :].split("/") if p]
        try:
            body = request.json("Invalid JSON body") if request.method in ("POST", "PUT") else None
            if body is not None and not isinstance(body, dict):
                raise ApiError(400, "the body must be a JSON object")
            body = body or {}
            what = parts[0] if parts else ""
            if parts == ["clock"]:
                if request.method == "POST":
                    self._clock_post(body)
                elif request.method != "GET":
                    raise ApiError(405, "Method Not Allowed")
                return json_response(self.clock_view())
            if parts == ["requests"]:
                if request.method == "DELETE":
                    self.log.clear()
                    return Response(204)
                items = self.log.items()
                return json_response({"total": len(items), "items": items,
                                      "inflight": self._inflight})
            if parts == ["faults"]:
                if request.method == "POST":
                    return json_response(self.add_fault(body), 201)
                if request.method == "DELETE":
                    self.clear_faults()
                    return Response(204)
                items = self.list_faults()
                return json_response({"total": len(items), "items": items})
            if parts == ["reset"] and request.method == "POST":
                if "epoch" in body:
                    self.clock.set(float(body["epoch"]))
                self.reset_state()
                self.clear_faults()
                self.log.clear()
                return json_response(self.clock_view())
            response = self.handle_control(request, parts)
            if response is None:
                raise ApiError(
                    404, f"Unknown control endpoint {request.method} {request.path} ({what})"
                )
            return response
        except ApiError as exc:
            return text_response(exc.message, exc.status)
        except (ValueError, TypeError, KeyError) as exc:
            return text_response(f"Bad control request: {exc}", 400)

    def _clock_post(self, body: Mapping[str, Any]) -> None:
        if "speed" in body:
            self.clock.set_speed(float(body["speed"]))
        if "advance" in body:
            self.clock.advance(float(body["advance"]))
        if "to" in body:
            target = float(body["to"])
            self.clock.advance(max(0.0, target - self.clock.now()))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "bedform-emulator"
    timeout = 60
    app: Callable[[Request], Response]
    clock: VirtualClock | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        request = Request(self.command, split.path, query, self.headers, body)
        try:
            response = self.app(request)
        except Exception as exc:  # an emulator bug must not kill the connection
            response = text_response(f"Emulator internal error: {exc!r}", 500)
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: the server's clock is the virtual clock."""
        if timestamp is None and self.clock is not None:
            timestamp = self.clock.now()
        return super().date_time_string(timestamp)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        """Cut kept-alive client connections so nothing is served after a stop."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class EmulatorServer:
    """Serve an application over HTTP on loopback from a background thread; the ``Date``
    header follows ``clock`` (default: the app's own ``clock``, if it has one)."""

    def __init__(
        self, app: Callable[[Request], Response], host: str = "127.0.0.1", port: int = 0,
        clock: VirtualClock | None = None,
    ) -> None:
        self.app = app
        self.clock = clock or getattr(app, "clock", None)
        self.host = host
        self.port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind (port 0 picks a free port) and serve in a daemon thread."""
        handler = type("Handler", (_Handler,), {"app": staticmethod(self.app),
                                                "clock": self.clock})
        self._httpd = _Server((self.host, self.port), handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        """Whether the server is serving."""
        return self._httpd is not None

    @property
    def base_url(self) -> str:
        """``http://host:port`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"
