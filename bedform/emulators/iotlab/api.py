"""HTTP layer of the IoT-LAB emulator: routes, Basic auth, JSON errors, controls.

The API is served under ``/api/`` (the base URL given to iotlabcli must end
with ``/``). Answers are JSON; errors are ``{"code": N, "message": "…"}`` as
the real API sends them, so iotlabcli's ``HTTPError`` text carries the message.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import tarfile
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from ..common import ApiError, BaseEmulatorApp, Request, Response, VirtualClock, json_response
from .boards import Action, FirmwareError, check_firmware
from .errors import IotlabError
from .experiments import Experiment, iso
from .inventory import ids_view
from .multipart import MultipartError, parse_form
from .profiles import ProfileError, validate_profile
from .testbed import Testbed

PREFIX = "/api"
PUBLIC_ROUTES = (("GET", ("sites",)),)
SIMPLE_COMMANDS = ("start", "stop", "reset", "debug-start", "debug-stop", "profile-reset",
                   "flash-idle")  # fmt: skip


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None
                   ) -> Response:  # fmt: skip
    """The API's error body."""
    return json_response({"code": status, "message": message}, status, headers)


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise IotlabError(400, f"{what}: invalid JSON ({exc})") from None


def _epoch(text: str | None, name: str) -> float:
    if not text:
        raise IotlabError(400, f"{name}: required, as YYYY-MM-DDTHH:MM:SSZ")
    if text.isdigit():
        return float(text)
    try:
        date = datetime.fromisoformat(text)
    except ValueError:
        raise IotlabError(400, f"{name}: {text!r} is not like 2026-04-01T10:00:00Z") from None
    return (date if date.tzinfo else date.replace(tzinfo=UTC)).timestamp()


class IotlabApp(BaseEmulatorApp):
    """The IoT-LAB REST API over a :class:`Testbed`."""

    def __init__(self, testbed: Testbed, users: Mapping[str, str], clock: VirtualClock,
                 latency_ms: float = 0.0) -> None:  # fmt: skip
        super().__init__(clock, latency_ms)
        self.testbed = testbed
        self.users = dict(users)

    # ----------------------------------------------------------- emulator hooks
    def reset_state(self) -> None:
        """Forget experiments, profiles, board records and node faults."""
        self.testbed.reset()

    def add_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """HTTP faults, plus ``node_ko`` (boards answering KO to a command)."""
        if spec.get("kind", "http") == "http":
            return super().add_fault(spec)
        if spec.get("kind") != "node_ko":
            raise ApiError(400, f"unknown fault kind {spec.get('kind')!r} (http, node_ko)")
        try:
            return self.testbed.add_node_fault(spec)
        except IotlabError as exc:
            raise ApiError(exc.status, exc.message) from None

    def list_faults(self) -> list[dict[str, Any]]:
        """HTTP and node faults."""
        with self.testbed.lock:
            return super().list_faults() + [f.view() for f in self.testbed.node_faults]

    def clear_faults(self) -> None:
        """Remove every fault."""
        super().clear_faults()
        with self.testbed.lock:
            self.testbed.node_faults.clear()

    def handle_control(self, request: Request, parts: list[str]) -> Response | None:
        """``/_emulator/boards`` (records, health), ``/firmware``, ``/experiments``."""
        tb = self.testbed
        try:
            if parts == ["boards"] and request.method == "GET":
                return json_response(self.boards_view(request.query.get("site")))
            if parts == ["boards"] and request.method == "POST":
                body = request.json() or {}
                state = str(body.get("state", "Dead"))
                return json_response({"nodes": tb.set_health(body.get("nodes"), state),
                                      "state": state})  # fmt: skip
            if parts == ["firmware"] and request.method == "GET":
                return json_response(self.firmware_view())
            if len(parts) == 3 and parts[0] == "boards" and parts[2] == "firmware":
                with tb.lock:
                    tb.sync()
                    runtime = tb.runtime.get(parts[1])
                    if runtime is None or runtime.firmware is None:
                        raise IotlabError(404, f"no firmware flashed on {parts[1]!r}")
                    content = runtime.firmware.content
                return Response(200, content, "application/octet-stream")
            if parts == ["experiments"] and request.method == "GET":
                with tb.lock:
                    now = tb.sync()
                    items = [e.summary(now) for e in tb.experiments.values()]
                return json_response({"total": len(items), "items": items})
        except IotlabError as exc:
            raise ApiError(exc.status, exc.message) from None
        return None

    def boards_view(self, site: str | None = None) -> dict[str, Any]:
        """Board name → site, archi, health, API state and runtime record."""
        tb = self.testbed
        with tb.lock:
            now = tb.sync()
            states = tb.node_states(now)
            return {
                b.network_address: {"site": b.site, "archi": b.archi, "health": b.health,
                                    "state": states[b.network_address],
                                    **tb.runtime[b.network_address].view()}
                for b in tb.inventory.select(site)
            }  # fmt: skip

    def firmware_view(self) -> dict[str, Any]:
        """Board name → the firmware flashed on it (boards with the idle firmware left out)."""
        tb = self.testbed
        with tb.lock:
            tb.sync()
            return {a: r.firmware.view() for a, r in tb.runtime.items() if r.firmware}

    # ------------------------------------------------------------------ dispatch
    def handle_api(self, request: Request) -> Response:
        """Route one API request."""
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return error_response(404, f"Not found: {request.path} (the API is under {PREFIX}/)")
        parts = tuple(unquote(p) for p in request.path[len(PREFIX):].split("/") if p)
        try:
            user = self._authenticate(request, parts)
            return self._route(request, user, parts)
        except (IotlabError, ApiError) as exc:  # ApiError: a body that is not JSON
            headers = {"WWW-Authenticate": 'Basic realm="IoT-LAB"'} if exc.status == 401 else None
            return error_response(exc.status, exc.message, headers)

    def _authenticate(self, request: Request, parts: tuple[str, ...]) -> str:
        header = request.header("Authorization") or ""
        name = password = ""
        if header.lower().startswith("basic "):
            try:
                name, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                name = ""
        if name in self.users and self.users[name] == password:
            return name
        if (request.method, parts) in PUBLIC_ROUTES:
            return ""
        raise IotlabError(401, "Unauthorized: bad or missing credentials (HTTP Basic auth)")

    def _route(self, request: Request, user: str, parts: tuple[str, ...]) -> Response:
        tb, method, query = self.testbed, request.method, request.query
        match (method, parts):
            case ("GET", ("sites",)):
                return json_response({"items": [{"site": s} for s in tb.inventory.sites()]})
            case ("GET", ("sites", "details")):
                return json_response({"items": self._sites_details()})
            case ("GET", ("nodes",)):
                return json_response({"items": self._nodes(query)})
            case ("GET", ("nodes", "ids")):
                return json_response({"items": self._nodes_ids(query)})
            case ("GET", ("user",)):
                return json_response(self._user(user))
            case ("GET", ("user", "keys")):
                with tb.lock:
                    return json_response({"sshkeys": list(tb.sshkeys.get(user, []))})
            case ("POST", ("user", "keys")):
                return json_response(self._set_keys(user, request.json()))
            case ("GET", ("drawgantt", "experiments")):
                return json_response({"items": self._gantt(query)})
            case ("GET", ("monitoring",)):
                return json_response(tb.list_profiles(user, query.get("archi")))
            case ("POST", ("monitoring",)):
                return json_response(tb.add_profile(user, request.json()))
            case ("GET", ("monitoring", name)):
                return json_response(tb.profile(user, name))
            case ("DELETE", ("monitoring", name)):
                tb.delete_profile(user, name)
                return Response(204)
            case ("GET", ("experiments",)):
                return json_response({"items": self._list(user, query)})
            case ("POST", ("experiments",)):
                exp = tb.submit(user, self._form(request))
                return json_response({"id": exp.id})
            case ("GET", ("experiments", "running")):
                return json_response({"items": tb.running()})
            case (_, ("experiments", exp_id, *rest)):
                return self._experiment(request, user, self._exp_id(exp_id), list(rest))
        raise IotlabError(404, f"Not found: {method} {request.path}")

    @staticmethod
    def _exp_id(text: str) -> int:
        if not text.isdigit():
            raise IotlabError(404, f"Not found: experiment id {text!r} is not a number")
        return int(text)

    @staticmethod
    def _form(request: Request) -> dict[str, bytes]:
        try:
            return parse_form(request.header("Content-Type"), request.body)
        except MultipartError as exc:
            raise IotlabError(400, str(exc)) from None

    # --------------------------------------------------------------- experiments
    def _list(self, user: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
        states = [s for s in query.get("state", "").split(",") if s]
        try:
            limit, offset = int(query.get("limit", 0)), int(query.get("offset", 0))
        except ValueError:
            raise IotlabError(400, "limit/offset: must be integers") from None
        return self.testbed.list_experiments(user, states, limit, max(0, offset))

    def _experiment(self, request: Request, user: str, exp_id: int, rest: list[str]) -> Response:
        tb, method = self.testbed, request.method
        if method == "DELETE" and not rest:
            return json_response(tb.stop(user, exp_id))
        if method == "POST" and rest == ["reload"]:
            return json_response({"id": tb.reload(user, exp_id, request.json()).id})
        if method == "POST" and rest[:1] == ["nodes"] and len(rest) > 1:
            return json_response(self._node_command(request, user, exp_id, rest[1:]))
        if method == "POST" and rest[:1] == ["scripts"]:
            raise IotlabError(501, "site scripts (experiments/{id}/scripts) are not emulated")
        if method != "GET" or len(rest) > 1:
            raise IotlabError(404, f"Not found: {method} {request.path}")
        with tb.lock:
            exp = tb.experiment(user, exp_id)
            now = tb.clock.now()
            view = rest[0] if rest else ""
            if view == "":
                return json_response(exp.description(now))
            if view == "nodes":
                states = tb.node_states(now)
                boards = [tb.inventory.board(a) for a in exp.boards]
                items = [dict(b.view(False), state=states[b.network_address]) for b in boards]
                return json_response({"items": items})
            if view == "nodes_ids":
                boards = [tb.inventory.board(a) for a in exp.boards]
                return json_response({"items": ids_view(boards, tb.node_states(now))})
            if view == "deployment":
                return json_response(exp.deployment)
            if view == "data":
                return Response(200, self._archive(exp, now), "application/x-gzip")
        raise IotlabError(404, f"Not found: {method} {request.path}")

    @staticmethod
    def _archive(exp: Experiment, now: float) -> bytes:
        """The experiment's tar.gz: its description, deployment and files."""
        buffer = io.BytesIO()
        members = {
            f"{exp.id}/{exp.id}.json": json.dumps(exp.description(now), indent=2).encode(),
            f"{exp.id}/deployment.json": json.dumps(exp.deployment).encode(),
            **{f"{exp.id}/{name}": content for name, content in exp.files.items()},
        }
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, content in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(content), int(now), 0o644
                archive.addfile(info, io.BytesIO(content))
        return buffer.getvalue()

    def _node_command(self, request: Request, user: str, exp_id: int, rest: list[str]
                      ) -> dict[str, list[str]]:  # fmt: skip
        now = self.clock.now()
        command = rest[0]
        if command in SIMPLE_COMMANDS and len(rest) == 1:
            return self.testbed.node_command(user, exp_id, Action(command, exp_id, now),
                                             request.json())  # fmt: skip
        if command == "monitoring" and len(rest) == 2:
            action = Action("monitoring", exp_id, now, profile=rest[1])
            return self.testbed.node_command(user, exp_id, action, request.json())
        if command == "monitoring" and len(rest) == 1:
            form = self._form(request)
            nodes = _json(form.pop("nodes.json", b"[]"), "nodes.json")
            if len(form) != 1:
                raise IotlabError(400, "profile load: expected one profile file and nodes.json")
            try:
                profile = validate_profile(_json(next(iter(form.values())), "profile"))
            except ProfileError as exc:
                raise IotlabError(400, f"profile: {exc}") from None
            action = Action("monitoring", exp_id, now, profile=profile["profilename"],
                            inline_profile=profile)  # fmt: skip
            return self.testbed.node_command(user, exp_id, action, nodes)
        if command == "flash" and rest[1:] in ([], ["binary"]):
            binary = rest[1:] == ["binary"]
            form = self._form(request)
            if binary:
                spec = _json(form.pop("experiment.json", b"{}"), "experiment.json")
                nodes = spec.get("nodes", []) if isinstance(spec, dict) else None
            else:
                nodes = _json(form.pop("nodes.json", b"[]"), "nodes.json")
            if len(form) != 1:
                raise IotlabError(400, "flash: expected exactly one firmware file part")
            name, content = next(iter(form.items()))
            if binary != name.lower().endswith(".bin"):
                where = "nodes/flash/binary" if binary else "nodes/flash"
                raise IotlabError(400, f"flash: {name!r} cannot be sent to {where}")
            try:
                check_firmware(name, content)
            except FirmwareError as exc:
                raise IotlabError(400, str(exc)) from None
            action = Action("flash", exp_id, now, firmware=(name, content))
            return self.testbed.node_command(user, exp_id, action, nodes)
        raise IotlabError(404, f"Not found: unknown node command {'/'.join(rest)!r}")

    # ----------------------------------------------------------- testbed views
    def _nodes(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        tb = self.testbed
        with tb.lock:
            states = tb.node_states(tb.sync())
            return [
                dict(b.view(False), state=states[b.network_address])
                for b in tb.inventory.select(query.get("site"), query.get("archi"))
                if query.get("state") in (None, states[b.network_address])
            ]

    def _nodes_ids(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        tb = self.testbed
        with tb.lock:
            states = tb.node_states(tb.sync())
            boards = [
                b for b in tb.inventory.select(query.get("site"), query.get("archi"))
                if query.get("state") in (None, states[b.network_address])
            ]  # fmt: skip
            return ids_view(boards, states)

    def _sites_details(self) -> list[dict[str, Any]]:
        inv = self.testbed.inventory
        return [
            {"site": site, "archis": [{"archi": archi, "mobile": 0,
                                       "total": len([b for b in inv.select(site)
                                                     if b.archi == archi])}
                                      for archi in inv.archis(site)]}
            for site in inv.sites()
        ]  # fmt: skip

    def _gantt(self, query: Mapping[str, str]) -> list[dict[str, Any]]:
        start, stop = _epoch(query.get("start"), "start"), _epoch(query.get("stop"), "stop")
        tb = self.testbed
        with tb.lock:
            now = tb.sync()
            return [
                {"id": e.id, "user": e.user, "state": e.state(now),
                 "start_date": iso(e.scheduled), "stop_date": iso(e.end),
                 "submitted_duration": e.submission.duration, "nodes": list(e.boards)}
                for e in sorted(tb.experiments.values(), key=lambda e: e.scheduled)
                if e.scheduled < min(stop, e.end) and e.end > start
            ]  # fmt: skip

    def _user(self, user: str) -> dict[str, Any]:
        with self.testbed.lock:
            keys = list(self.testbed.sshkeys.get(user, []))
        return {"login": user, "email": f"{user}@example.org", "firstName": user.title(),
                "lastName": "Emulated", "organization": "bedform", "city": "Grenoble",
                "country": "France", "category": "Academic", "motivations": "",
                "sshkeys": keys, "groups": [], "status": "ACTIVATED",
                "created": iso(self.testbed.first_epoch)}  # fmt: skip

    def _set_keys(self, user: str, body: Any) -> dict[str, Any]:
        keys = body.get("sshkeys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise IotlabError(400, "sshkeys: the body must be {\"sshkeys\": [\"ssh-ed25519 …\"]}")
        with self.testbed.lock:
            self.testbed.sshkeys[user] = list(keys)
        return {"sshkeys": keys}
