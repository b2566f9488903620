"""The mutable state of the emulated IoT-LAB and the rules that change it.

Experiments are scheduled on the boards of an :class:`Inventory` by a
first-fit planner on the virtual clock (earliest start where the boards are
free, like OAR's conservative backfilling). Nothing runs in the background:
every access first calls :meth:`Testbed.sync`, which launches the experiments
whose date came (flashing their firmware associations) and ends those whose
walltime ran out. All public methods take the testbed lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..common import VirtualClock
from .boards import (
    COMMANDS,
    Action,
    BoardRuntime,
    FirmwareError,
    NodeFault,
    apply_action,
    check_firmware,
)
from .errors import IotlabError
from .experiments import STATES, Experiment, Submission, SubmissionError, parse_submission
from .inventory import Board, Inventory, InventoryError
from .planner import Planner
from .profiles import ProfileError, validate_profile

BUSY_STATES = ("toLaunch", "Launching", "Running")
Listener = Callable[[str, int, list[str]], None]
"""Told `(event, experiment id, boards)` on `launch`, `end` and each node command that
succeeded (`flash`, `reset`, `start`, `stop`...), under the testbed lock: keep it short."""


class Testbed:
    """Boards, experiments, profiles and faults of one emulated IoT-LAB."""

    def __init__(
        self,
        inventory: Inventory,
        clock: VirtualClock,
        launch_seconds: float = 10.0,
        first_id: int = 400_001,
    ) -> None:
        self.inventory = inventory
        self.clock = clock
        self.launch_seconds = float(launch_seconds)
        self.first_id = first_id
        #: When the emulated testbed came up (the accounts' creation date).
        self.first_epoch = clock.now()
        self.lock = threading.RLock()
        self.planner = Planner(inventory, self.launch_seconds)
        #: Told about launches, ends and node commands (the box's hosts follow them).
        self.listeners: list[Listener] = []
        self.reset()

    def reset(self) -> None:
        """Forget experiments, profiles, keys, faults; boards back to their first health."""
        with self.lock:
            self.experiments: dict[int, Experiment] = {}
            self.profiles: dict[str, dict[str, dict[str, Any]]] = {}
            self.sshkeys: dict[str, list[str]] = {}
            self.runtime = {a: BoardRuntime() for a in self.inventory.boards}
            self.node_faults: list[NodeFault] = []
            self._next_id = self.first_id
            self._next_fault = 1
            self.inventory.reset_health()

    # ------------------------------------------------------------------ time
    def sync(self) -> float:
        """Apply the launches and ends due by now; return now."""
        now = self.clock.now()
        for exp in sorted(self.experiments.values(), key=lambda e: (e.scheduled, e.id)):
            if exp.finished:
                continue
            state = exp.state(now)
            if not exp.launched and (state in BUSY_STATES or now >= exp.end > exp.started):
                self._launch(exp, min(now, exp.started))
            if state == "Terminated":
                self._finish(exp)
        return now

    def _launch(self, exp: Experiment, now: float) -> None:
        exp.launched = True
        ok: list[str] = []
        ko: list[str] = []
        for address in exp.boards:
            board = self.inventory.board(address)
            self.runtime[address] = BoardRuntime(experiment=exp.id)  # fresh for each experiment
            (ok if board.health == "Alive" else ko).append(address)
        for assoc in exp.submission.firmwares:
            name = assoc["firmwarename"]
            action = Action("flash", exp.id, now, firmware=(name, exp.files[name]))
            fired: set[int] = set()
            for reference in assoc["nodes"]:
                for address in exp.boards_of(reference):
                    if address in ok and not self._apply(address, action, fired):
                        ok.remove(address)
                        ko.append(address)
            self._consume_faults(fired)  # a flash at launch counts as a flash command
        for assoc in exp.submission.profiles:
            action = Action("monitoring", exp.id, now, profile=assoc["profilename"])
            for reference in assoc["nodes"]:
                for address in exp.boards_of(reference):
                    self._apply(address, action, set())
        exp.deployment = {"0": sorted(ok), "1": sorted(ko)}
        self._notify("launch", exp.id, exp.boards)

    def _notify(self, event: str, exp_id: int, boards: list[str]) -> None:
        for listener in self.listeners:
            listener(event, exp_id, boards)

    def _finish(self, exp: Experiment) -> None:
        exp.finished = True
        if not exp.launched:
            return
        for address in exp.boards:
            if self.runtime[address].experiment == exp.id:
                self.runtime[address] = BoardRuntime()  # the idle firmware is flashed back
        self._notify("end", exp.id, exp.boards)

    # ----------------------------------------------------------- experiments
    def submit(self, user: str, fields: Mapping[str, bytes]) -> Experiment:
        """``POST experiments``: the multipart fields (``new_exp.json`` and files)."""
        with self.lock:
            now = self.sync()
            raw = fields.get("new_exp.json")
            if raw is None:
                raise IotlabError(400, "the multipart body has no 'new_exp.json' part")
            try:
                sub = parse_submission(json.loads(raw))
            except ValueError as exc:
                raise IotlabError(400, f"new_exp.json: {exc}") from None
            files = {k: v for k, v in fields.items() if k != "new_exp.json"}
            return self._create(user, sub, files, now)

    def _create(self, user: str, sub: Submission, files: dict[str, bytes], now: float
                ) -> Experiment:  # fmt: skip
        for assoc in sub.firmwares:
            name = assoc["firmwarename"]
            if name not in files:
                raise IotlabError(400, f"firmwareassociations: no file part named {name!r}")
            try:
                check_firmware(name, files[name])
            except FirmwareError as exc:
                raise IotlabError(400, str(exc)) from None
        for assoc in sub.profiles:
            if assoc["profilename"] not in self.profiles.get(user, {}):
                raise IotlabError(
                    400, f"profileassociations: profile {assoc['profilename']!r} does not "
                    "exist (create it with POST monitoring)"
                )
        start, groups = self.planner.place(sub, now, self.experiments.values())
        exp = Experiment(
            id=self._next_id, user=user, submission=sub, files=files, submitted_at=now,
            scheduled=start, launch_seconds=self.launch_seconds,
            boards=sorted({a for g in groups.values() for a in g}), groups=groups,
        )  # fmt: skip
        self._next_id += 1
        self.experiments[exp.id] = exp
        self.sync()
        return exp

    def experiment(self, user: str, exp_id: int) -> Experiment:
        """One of ``user``'s experiments (synced)."""
        with self.lock:
            self.sync()
            exp = self.experiments.get(exp_id)
            if exp is None:
                raise IotlabError(404, f"Experiment {exp_id} not found")
            if exp.user != user:
                raise IotlabError(403, f"Experiment {exp_id} belongs to another user")
            return exp

    def list_experiments(self, user: str, states: list[str], limit: int, offset: int
                         ) -> list[dict[str, Any]]:  # fmt: skip
        """``user``'s experiments in ``states`` (all if empty), newest first."""
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise IotlabError(400, f"state: unknown {', '.join(unknown)} (known: "
                              f"{', '.join(STATES)})")
        with self.lock:
            now = self.sync()
            items = [
                e.summary(now)
                for e in sorted(self.experiments.values(), key=lambda e: -e.id)
                if e.user == user and (not states or e.state(now) in states)
            ]
        items = items[offset:]
        return items[:limit] if limit > 0 else items

    def running(self) -> list[dict[str, Any]]:
        """Every user's running experiments."""
        with self.lock:
            now = self.sync()
            return [e.summary(now) for e in self.experiments.values()
                    if e.state(now) == "Running"]  # fmt: skip

    def stop(self, user: str, exp_id: int) -> dict[str, Any]:
        """``DELETE experiments/{id}``."""
        with self.lock:
            exp = self.experiment(user, exp_id)
            now = self.clock.now()
            if not exp.active_at(now):
                raise IotlabError(
                    500, f"[OAR] Cannot frag {exp_id} ; This job was already killed."
                )
            exp.stopped_at = now
            self.sync()
            self.planner.replan(now, self.experiments)
            return {"id": exp_id, "status": "Delete request registered"}

    def reload(self, user: str, exp_id: int, body: Any) -> Experiment:
        """``POST experiments/{id}/reload``: submit the same experiment again."""
        body = body or {}
        if not isinstance(body, dict):
            raise IotlabError(400, "reload: the body must be a JSON object")
        with self.lock:
            old = self.experiment(user, exp_id)
            sub = old.submission
            try:
                duration = body.get("duration", sub.duration)
                reservation = body.get("reservation")
                sub = parse_submission(
                    {**old.description(self.clock.now()), "duration": duration,
                     "reservation": reservation}
                )  # fmt: skip
            except SubmissionError as exc:
                raise IotlabError(400, f"reload: {exc}") from None
            return self._create(user, sub, dict(old.files), self.clock.now())

    # ---------------------------------------------------------- node actions
    def node_states(self, now: float) -> dict[str, str]:
        """Every board's API state (``Busy`` while an experiment holds it)."""
        busy = {
            a for e in self.experiments.values() if e.state(now) in BUSY_STATES for a in e.boards
        }
        return {
            a: b.view(a in busy)["state"] for a, b in self.inventory.boards.items()
        }

    def _apply(self, address: str, action: Action, fired: set[int]) -> bool:
        """Apply ``action`` to one board; the uids of the faults that refused it go to ``fired``."""
        board: Board = self.inventory.board(address)
        if board.health != "Alive":
            return False
        for fault in self.node_faults:
            if fault.command == action.command and (not fault.nodes or address in fault.nodes):
                fired.add(fault.uid)
                return False
        return apply_action(board, self.runtime[address], action)

    def _consume_faults(self, fired: set[int]) -> None:
        """One use less for each fault that refused something in a command."""
        for fault in list(self.node_faults):
            if fault.uid in fired and fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.node_faults.remove(fault)

    def node_command(self, user: str, exp_id: int, action: Action, nodes: Any
                     ) -> dict[str, list[str]]:  # fmt: skip
        """Run a command on boards of a running experiment: ``{"0": ok, "1": ko}``."""
        if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
            raise IotlabError(400, "nodes: the body must be a JSON list of node FQDNs")
        with self.lock:
            exp = self.experiment(user, exp_id)
            now = self.clock.now()
            if exp.state(now) != "Running":
                raise IotlabError(
                    400, f"Experiment {exp_id} is not running (state {exp.state(now)})"
                )
            stored = self.profiles.get(user, {})
            if action.command == "monitoring" and action.inline_profile is None and (
                action.profile not in stored
            ):
                raise IotlabError(400, f"profile {action.profile!r} does not exist")
            ok: list[str] = []
            ko: list[str] = []
            fired: set[int] = set()
            for address in nodes or exp.boards:
                done = address in exp.boards and self._apply(address, action, fired)
                (ok if done else ko).append(address)
            self._consume_faults(fired)
            if ok:
                self._notify(action.command, exp_id, ok)
            return {"0": ok, "1": ko}

    # --------------------------------------------------------------- profiles
    def add_profile(self, user: str, body: Any) -> dict[str, Any]:
        """``POST monitoring``."""
        try:
            profile = validate_profile(body)
        except ProfileError as exc:
            raise IotlabError(400, str(exc)) from None
        with self.lock:
            mine = self.profiles.setdefault(user, {})
            if profile["profilename"] in mine:
                raise IotlabError(400, f"profile {profile['profilename']!r} already exists")
            mine[profile["profilename"]] = profile
            return profile

    def profile(self, user: str, name: str) -> dict[str, Any]:
        """``GET monitoring/{name}``."""
        with self.lock:
            try:
                return self.profiles.get(user, {})[name]
            except KeyError:
                raise IotlabError(404, f"profile {name!r} not found") from None

    def list_profiles(self, user: str, archi: str | None) -> list[dict[str, Any]]:
        """``GET monitoring[?archi=]``."""
        with self.lock:
            return [p for p in self.profiles.get(user, {}).values()
                    if archi is None or p["nodearch"] == archi]  # fmt: skip

    def delete_profile(self, user: str, name: str) -> None:
        """``DELETE monitoring/{name}``."""
        with self.lock:
            self.profile(user, name)
            del self.profiles[user][name]

    # ----------------------------------------------------------------- faults
    def add_node_fault(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``node_ko``: the given boards (all if empty) answer KO to ``command``."""
        command = str(spec.get("command", "flash"))
        if command not in COMMANDS:
            raise IotlabError(400, f"command: {command!r} must be one of {', '.join(COMMANDS)}")
        nodes = spec.get("nodes", [])
        if not isinstance(nodes, list):
            raise IotlabError(400, "nodes: must be a list of node FQDNs")
        count = spec.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise IotlabError(400, "count: must be an integer >= 1 (or null for ever)")
        with self.lock:
            try:
                for address in nodes:
                    self.inventory.board(address)
            except InventoryError as exc:
                raise IotlabError(400, str(exc)) from None
            fault = NodeFault(self._next_fault, command, set(nodes), count)
            self._next_fault += 1
            self.node_faults.append(fault)
            return fault.view()

    def set_health(self, nodes: Any, state: str) -> list[str]:
        """Set boards ``Alive``, ``Absent``, ``Suspected`` or ``Dead``."""
        if not isinstance(nodes, list) or not nodes:
            raise IotlabError(400, "nodes: must be a non-empty list of node FQDNs")
        with self.lock:
            try:
                return self.inventory.set_health(nodes, state)
            except InventoryError as exc:
                raise IotlabError(400, str(exc)) from None
