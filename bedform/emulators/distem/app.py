"""distemd's REST API over `http.server`: routes, form fields, JSON answers, errors.

Parameters are form fields (`application/x-www-form-urlencoded` bodies, or the query
string); the structured ones (`desc`, `ssh_key`, `target`, `names`, `opts`) hold JSON
text. Answers are JSON with status 200; an error is its status (400, 404, 500, 501) with
the detail in `X-Application-Error-Code`. Every request is appended to `log` (method,
path, status), which tests count. Standard library only (it runs inside the box's nodes).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .model import INVALID, NOT_FOUND, SHELL, DistemError, Platform

Params = dict[str, str]
Handler = Callable[[Platform, Params, list[str]], Any]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a handler of `METHOD path` (`:name` matches one path segment)."""
    regex = re.compile("^" + re.sub(r":\w+", "([^/]+)", pattern.rstrip("/")) + "/?$")

    def register(handler: Handler) -> Handler:
        ROUTES.append((method, regex, handler))
        return handler
    return register


def structured(params: Params, name: str, default: Any) -> Any:
    """A JSON-encoded form field (a plain string where a list is wanted is one item)."""
    if name not in params or params[name] == "":
        return default
    text = params[name]
    try:
        return json.loads(text)
    except ValueError:
        if isinstance(default, list):
            return [text]
        raise DistemError(400, INVALID, f"{name}: not valid JSON: {text[:80]!r}") from None


def _mapping(params: Params, name: str) -> dict[str, Any]:
    value = structured(params, name, {})
    if not isinstance(value, dict):
        raise DistemError(400, INVALID, f"{name}: a JSON object is expected")
    return value


def _names(params: Params) -> list[str]:
    names = structured(params, "names", [])
    return [names] if isinstance(names, str) else [str(n) for n in names]


# -- pnodes ---------------------------------------------------------------------------------
@route("GET", "/pnodes")
def _pnodes(p: Platform, params: Params, args: list[str]) -> Any:
    return list(p.pnodes.values())


@route("POST", "/pnodes")
def _pnodes_init(p: Platform, params: Params, args: list[str]) -> Any:
    targets = structured(params, "target", [])
    return p.pnode_init([targets] if isinstance(targets, str) else list(targets))


@route("DELETE", "/pnodes")
def _pnodes_quit(p: Platform, params: Params, args: list[str]) -> Any:
    return p.quit()


@route("GET", "/pnodes/:pnode")
def _pnode(p: Platform, params: Params, args: list[str]) -> Any:
    return p.pnode(args[0])


@route("DELETE", "/pnodes/:pnode")
def _pnode_quit(p: Platform, params: Params, args: list[str]) -> Any:
    return p.pnode_quit(args[0])


# -- vnetworks ------------------------------------------------------------------------------
@route("POST", "/vnetworks")
def _vnetwork_create(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vnetwork_create(params.get("name", ""), params.get("address", ""))


@route("GET", "/vnetworks")
def _vnetworks(p: Platform, params: Params, args: list[str]) -> Any:
    return list(p.vnetworks.values())


@route("DELETE", "/vnetworks")
def _vnetworks_remove(p: Platform, params: Params, args: list[str]) -> Any:
    return [p.vnetwork_remove(name) for name in list(p.vnetworks)]


@route("GET", "/vnetworks/:name")
def _vnetwork(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vnetwork(args[0])


@route("DELETE", "/vnetworks/:name")
def _vnetwork_remove(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vnetwork_remove(args[0])


# -- vnodes ---------------------------------------------------------------------------------
@route("GET", "/vnodes")
def _vnodes(p: Platform, params: Params, args: list[str]) -> Any:
    return list(p.vnodes.values())


@route("POST", "/vnodes")
def _vnodes_create(p: Platform, params: Params, args: list[str]) -> Any:
    desc, key = _mapping(params, "desc"), _mapping(params, "ssh_key")
    return [p.vnode_create(name, dict(desc), key) for name in _names(params)]


@route("PUT", "/vnodes")
def _vnodes_update(p: Platform, params: Params, args: list[str]) -> Any:
    names = _names(params) or list(p.vnodes)
    desc = _mapping(params, "desc")
    return [p.vnode_update(n, params.get("type", "update"), desc) for n in names]


@route("POST", "/vnodes/:name")
def _vnode_create(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vnode_create(args[0], _mapping(params, "desc"), _mapping(params, "ssh_key"))


@route("GET", "/vnodes/:name")
def _vnode(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vnode(args[0])


@route("PUT", "/vnodes/:name")
def _vnode_update(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vnode_update(args[0], params.get("type", "update"), _mapping(params, "desc"))


@route("DELETE", "/vnodes/:name")
def _vnode_remove(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vnode_remove(args[0])


@route("POST", "/vnodes/:name/filesystem")
def _vfilesystem_create(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vfilesystem_create(args[0], _mapping(params, "desc"))


@route("PUT", "/vnodes/:name/filesystem")
def _vfilesystem_update(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vfilesystem_create(args[0], _mapping(params, "desc"))


@route("GET", "/vnodes/:name/filesystem")
def _vfilesystem(p: Platform, params: Params, args: list[str]) -> Any:
    filesystem = p.vnode(args[0])["vfilesystem"]
    if filesystem is None:
        raise DistemError(404, NOT_FOUND, f"vnode '{args[0]}' has no file system")
    return filesystem


@route("POST", "/vnodes/:name/ifaces")
def _viface_create(p: Platform, params: Params, args: list[str]) -> Any:
    return p.viface_create(args[0], params.get("name", ""), _mapping(params, "desc"))


@route("GET", "/vnodes/:name/ifaces/:iface")
def _viface(p: Platform, params: Params, args: list[str]) -> Any:
    return p.viface(args[0], args[1])


@route("DELETE", "/vnodes/:name/ifaces/:iface")
def _viface_remove(p: Platform, params: Params, args: list[str]) -> Any:
    return p.viface_remove(args[0], args[1])


@route("POST", "/vnodes/:name/commands")
def _execute(p: Platform, params: Params, args: list[str]) -> Any:
    return p.execute(args[0], params.get("command", ""))


@route("POST", "/commands")
def _execute_many(p: Platform, params: Params, args: list[str]) -> Any:
    command = params.get("command", "")
    return {name: p.execute(name, command) for name in _names(params)}


@route("GET", "/vplatform")
def _vplatform(p: Platform, params: Params, args: list[str]) -> Any:
    return p.vplatform()


# -- HTTP -----------------------------------------------------------------------------------
def dispatch(platform: Platform, method: str, path: str, params: Params) -> tuple[int, Any]:
    """(status, answer) of one request; the answer of an error is a DistemError."""
    allowed = False
    for verb, regex, handler in ROUTES:
        match = regex.match(path)
        if match is None:
            continue
        allowed = True
        if verb != method:
            continue
        try:
            with platform.lock:
                return 200, handler(platform, params, [unquote(g) for g in match.groups()])
        except DistemError as error:
            return error.status, error
        except Exception as error:  # a failed shell step of the backend, as distemd's 500
            return 500, DistemError(500, SHELL, f"{type(error).__name__}: {error}")
    if allowed:
        return 405, DistemError(405, INVALID, f"{method} {path}: method not allowed")
    return 404, DistemError(404, NOT_FOUND, f"no route {method} {path}")


class RequestLog:
    """The requests answered (method, path, status, time), in memory and optionally as
    JSON lines in a file."""

    def __init__(self, path: str | None = None) -> None:
        self.items: list[dict[str, Any]] = []
        self.path = path
        self._lock = threading.Lock()

    def add(self, method: str, path: str, status: int) -> None:
        item = {"method": method, "path": path, "status": status, "time": time.time()}
        with self._lock:
            self.items.append(item)
            if self.path:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(item) + "\n")


def make_server(platform: Platform, address: tuple[str, int], log: RequestLog,
                verbose: bool = False) -> ThreadingHTTPServer:
    """A threaded HTTP server answering the API of `platform` on `address`."""

    class DistemHandler(BaseHTTPRequestHandler):
        server_version = "distemd"
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query,
                                                    keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            if body:
                params.update({k: v[-1] for k, v in parse_qs(
                    body, keep_blank_values=True).items()})
            status, answer = dispatch(platform, self.command, parts.path or "/", params)
            log.add(self.command, parts.path, status)
            if isinstance(answer, DistemError):
                data = json.dumps({"error": answer.code}).encode()
            else:
                data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if isinstance(answer, DistemError):
                self.send_header("X-Application-Error-Code", answer.code)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            if verbose:
                super().log_message(format, *args)

    server = ThreadingHTTPServer(address, DistemHandler)
    server.daemon_threads = True
    return server
