"""A Plan: the changes, the drift that explains them, and the graph apply walks.

Each change becomes one or two operations in a DAG: `create`, `update`, `delete` or
`forget`; a replacement is `delete` then `create`. Creates follow the creates of what
they depend on; deletes precede the deletes of what they depend on (recorded
dependencies, so objects dropped from the configuration still go in the right order).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable

import attrs

from bedform.errors import ConfigError
from bedform.planner.diff import Action, Change, DriftEntry, Reason
from bedform.planner.graph import Dag
from bedform.planner.resources import DesiredSet

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

    def graph(self) -> Dag[tuple[str, str]]:
        """The operations DAG: nodes are (operation, address)."""
        return operation_graph(self.actionable)


def operation_graph(changes: Iterable[Change]) -> Dag[tuple[str, str]]:
    """DAG of (operation, address) nodes of the changes."""
    dag: Dag[tuple[str, str]] = Dag()
    by_address = {}
    for change in changes:
        by_address[change.address] = change
        for operation in _operations(change.action):
            dag.add((operation, change.address))
        if change.action == Action.REPLACE:
            dag.link(("delete", change.address), ("create", change.address))
    for change in by_address.values():
        for dependency in change.dependencies:
            if dependency not in by_address:
                continue
            for first in ("create", "update"):
                for then in ("create", "update"):
                    if (first, dependency) in dag and (then, change.address) in dag:
                        dag.link((first, dependency), (then, change.address))
            if ("delete", change.address) in dag and ("delete", dependency) in dag:
                dag.link(("delete", change.address), ("delete", dependency))
    return dag


def _operations(action: Action) -> tuple[str, ...]:
    return {
        Action.CREATE: ("create",), Action.UPDATE: ("update",), Action.DELETE: ("delete",),
        Action.REPLACE: ("delete", "create"), Action.FORGET: ("forget",), Action.NOOP: (),
    }[action]


def restrict_to_targets(changes: list[Change], targets: Iterable[str], destroy: bool = False
                        ) -> tuple[list[Change], list[str]]:
    """Keep the changes of the targets and, to apply, what they depend on; to destroy,
    what depends on them (as Terraform does: a target never takes its dependencies
    down). Others become no-ops. Also returns the plan notes saying what is kept."""
    dag: Dag[str] = Dag()
    for change in changes:
        dag.add(change.address)
        for dependency in change.dependencies:
            dag.link(dependency, change.address)
    keep: set[str] = set()
    spared: set[str] = set()
    for target in targets:
        matched = [a for a in dag if a == target or a.startswith(target + "[")
                   or a.startswith(target + ".")]
        if not matched:
            raise ConfigError(f"--target {target} matches no resource",
                              hint="`bedform state list` shows the addresses.")
        for address in matched:
            if destroy:
                keep |= {address, *dag.descendants(address)}
                spared |= dag.ancestors(address)
            else:
                keep |= {address, *dag.ancestors(address)}
    notes = ["Resource targeting is in effect: the plan may be incomplete."]
    spared = (spared - keep) & {c.address for c in changes}
    if spared:
        shown = sorted(spared)
        more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
        notes.append(f"Targeted destroy keeps what the targets depend on: "
                     f"{', '.join(shown[:8])}{more}.")
    return ([c if c.address in keep else attrs.evolve(c, action=Action.NOOP,
                                                       reason=Reason.UNCHANGED)
             for c in changes], notes)
