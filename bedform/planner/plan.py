"""A Plan: the changes, the drift that explains them, and the graph apply walks.

Each change becomes one or two operations in a DAG: `create`, `update`, `delete` or
`forget`; a replacement is `delete` then `create`. Creates follow the creates of what
they depend on; deletes precede the deletes of what they depend on (recorded
dependencies, so objects dropped from the configuration still go in the right order).
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from bedform import __version__
from bedform.errors import ConfigError, StalePlanError
from bedform.planner.diff import Action, Change, DriftEntry, Reason
from bedform.planner.resources import (
    UNKNOWN,
    DesiredSet,
    decode_value,
    encode_value,
    resource_from_dict,
    resource_to_dict,
)

if TYPE_CHECKING:
    import networkx as nx

PLAN_FORMAT = "bedform-plan"
PLAN_VERSION = 1
DEFAULT_PLAN_TTL = 3600.0


class Mode(enum.StrEnum):
    """What a plan is for."""

    APPLY = "apply"
    DESTROY = "destroy"
    REFRESH_ONLY = "refresh-only"


@attrs.frozen
class Summary:
    """Counts for `Plan: A to add, C to change, D to destroy.` (a replace counts twice)."""

    add: int
    change: int
    destroy: int

    def __str__(self) -> str:
        return f"{self.add} to add, {self.change} to change, {self.destroy} to destroy"


@attrs.define
class Plan:
    """Changes to make, with what is needed to check the plan is still valid."""

    mode: Mode
    changes: list[Change]
    drift: list[DriftEntry]
    desired: DesiredSet
    lineage: str
    serial: int
    config_hash: str
    created_at: float = attrs.field(factory=time.time)
    expires_at: float | None = None
    targets: tuple[str, ...] = ()
    notes: list[str] = attrs.field(factory=list)

    @property
    def actionable(self) -> list[Change]:
        """Changes other than no-ops."""
        return [c for c in self.changes if c.action != Action.NOOP]

    @property
    def has_changes(self) -> bool:
        """Whether applying would change anything (drift counts in refresh-only mode)."""
        if self.mode == Mode.REFRESH_ONLY:
            return bool(self.drift)
        return any(c.action not in (Action.NOOP, Action.FORGET) for c in self.changes)

    def summary(self) -> Summary:
        """Counts of the plan's changes."""
        add = change = destroy = 0
        for item in self.changes:
            add += item.action in (Action.CREATE, Action.REPLACE)
            change += item.action == Action.UPDATE
            destroy += item.action in (Action.DELETE, Action.REPLACE)
        return Summary(add, change, destroy)

    def graph(self) -> nx.DiGraph:
        """The operations DAG: nodes are (operation, address) with the change attached."""
        return operation_graph(self.actionable)

    def check_fresh(self, lineage: str, serial: int, config_hash: str,
                    now: float | None = None) -> None:
        """Raise StalePlanError if the state or configuration moved since planning."""
        now = time.time() if now is None else now
        if lineage != self.lineage and serial != 0:
            raise StalePlanError(
                "this saved plan was made for another state (lineage "
                f"{self.lineage}, the state's is {lineage})",
                hint="Run `bedform plan --out FILE` again for this stack.")
        if serial != self.serial:
            raise StalePlanError(
                f"saved plan is stale: the state changed since it was made (serial "
                f"{self.serial}, now {serial})",
                hint="Run `bedform plan --out FILE` again, review it, then apply it.")
        if config_hash != self.config_hash:
            raise StalePlanError(
                "saved plan is stale: the configuration changed since it was made",
                hint="Run `bedform plan --out FILE` again, review it, then apply it.")
        if self.expires_at is not None and now >= self.expires_at:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.expires_at))
            raise StalePlanError(
                f"saved plan expired at {stamp} (a reservation it relies on ends, or "
                "the plan is too old)",
                hint="Run `bedform plan --out FILE` again.")

    def to_dict(self) -> dict[str, Any]:
        """The saved-plan document."""
        return {
            "format": PLAN_FORMAT, "version": PLAN_VERSION, "bedform_version": __version__,
            "mode": self.mode.value, "lineage": self.lineage, "serial": self.serial,
            "config_hash": self.config_hash, "created_at": self.created_at,
            "expires_at": self.expires_at, "targets": list(self.targets),
            "notes": self.notes,
            "desired": [resource_to_dict(self.desired.resources[a]) for a in self.desired.order],
            "changes": [_change_to_dict(c) for c in self.changes],
            "drift": [attrs.asdict(d) for d in self.drift],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """Inverse of `to_dict`."""
        desired = DesiredSet.build(resource_from_dict(item) for item in data["desired"])
        return cls(
            mode=Mode(data["mode"]), changes=[_change_from_dict(c) for c in data["changes"]],
            drift=[DriftEntry(**d) for d in data["drift"]], desired=desired,
            lineage=data["lineage"], serial=data["serial"], config_hash=data["config_hash"],
            created_at=data["created_at"], expires_at=data["expires_at"],
            targets=tuple(data["targets"]), notes=list(data.get("notes", [])))

    def save(self, path: Path) -> None:
        """Write the plan to a file for a later `apply FILE`."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Plan:
        """Read a saved plan; a clear error if it is not one."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StalePlanError(f"cannot read saved plan {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
            raise StalePlanError(f"{path} is not a bedform saved plan",
                                 hint="Create one with `bedform plan --out FILE`.")
        if data.get("version") != PLAN_VERSION:
            raise StalePlanError(f"saved plan {path} has format version "
                                 f"{data.get('version')!r}; this bedform reads {PLAN_VERSION}")
        return cls.from_dict(data)


def _encode_after(value: Any) -> Any:
    if value is UNKNOWN:
        return {"$unknown": True}
    if isinstance(value, dict):
        return {k: _encode_after(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_after(v) for v in value]
    return encode_value(value)


def _decode_after(value: Any) -> Any:
    if isinstance(value, dict):
        if value == {"$unknown": True}:
            return UNKNOWN
        return {k: _decode_after(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_after(v) for v in value]
    return decode_value(value)


def _change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "address": change.address, "kind": change.kind, "provider": change.provider,
        "action": change.action.value, "reason": change.reason.value, "detail": change.detail,
        "before": change.before, "after": _encode_after(change.after),
        "forces_replacement": list(change.forces_replacement),
        "dependencies": list(change.dependencies), "adopt": change.adopt,
    }


def _change_from_dict(data: dict[str, Any]) -> Change:
    return Change(
        address=data["address"], kind=data["kind"], provider=data["provider"],
        action=Action(data["action"]), reason=Reason(data["reason"]), detail=data["detail"],
        before=data["before"], after=_decode_after(data["after"]),
        forces_replacement=tuple(data["forces_replacement"]),
        dependencies=tuple(data["dependencies"]), adopt=data["adopt"])


def operation_graph(changes: Iterable[Change]) -> nx.DiGraph:
    """DAG of (operation, address) nodes; each node's `change` attribute is its Change."""
    import networkx as nx

    graph = nx.DiGraph()
    by_address = {}
    for change in changes:
        by_address[change.address] = change
        for operation in _operations(change.action):
            graph.add_node((operation, change.address), change=change)
        if change.action == Action.REPLACE:
            graph.add_edge(("delete", change.address), ("create", change.address))
    for change in by_address.values():
        for dependency in change.dependencies:
            if dependency not in by_address:
                continue
            for first in ("create", "update"):
                for then in ("create", "update"):
                    if graph.has_node((first, dependency)) and graph.has_node(
                            (then, change.address)):
                        graph.add_edge((first, dependency), (then, change.address))
            if graph.has_node(("delete", change.address)) and graph.has_node(
                    ("delete", dependency)):
                graph.add_edge(("delete", change.address), ("delete", dependency))
    return graph


def _operations(action: Action) -> tuple[str, ...]:
    return {
        Action.CREATE: ("create",), Action.UPDATE: ("update",), Action.DELETE: ("delete",),
        Action.REPLACE: ("delete", "create"), Action.FORGET: ("forget",), Action.NOOP: (),
    }[action]


def restrict_to_targets(changes: list[Change], targets: Iterable[str]) -> list[Change]:
    """Keep changes of the targets and what they depend on; others become no-ops."""
    import networkx as nx

    graph = nx.DiGraph()
    for change in changes:
        graph.add_node(change.address)
        for dependency in change.dependencies:
            graph.add_edge(change.address, dependency)
    keep: set[str] = set()
    for target in targets:
        matched = [a for a in graph if a == target or a.startswith(target + "[")
                   or a.startswith(target + ".")]
        if not matched:
            raise ConfigError(f"--target {target} matches no resource",
                              hint="`bedform state list` shows the addresses.")
        for address in matched:
            keep |= {address, *nx.descendants(graph, address)}
    return [c if c.address in keep else attrs.evolve(c, action=Action.NOOP,
                                                      reason=Reason.UNCHANGED)
            for c in changes]
