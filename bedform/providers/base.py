"""The Driver protocol: the only way the planner talks to a testbed.

A driver turns a provider's configuration into desired `Resource`s (`expand`), looks at
what exists (`refresh`, batched), and creates, updates and deletes one resource at a
time. Drivers never import the planner or the state; everything they need arrives as
arguments: resolved inputs, the `Record` of what was applied before, and an
`ApplyContext` through which they persist remote ids the moment those exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import attrs

from bedform.state.model import Record
from bedform.values import DESCEND, walk

if TYPE_CHECKING:
    from bedform.objects import Networks, Roles


def str_tuple(items: Iterable[str]) -> tuple[str, ...]:
    """attrs converter: any iterable of names → a tuple (typed, unlike bare `tuple`)."""
    return tuple(items)


def str_set(items: Iterable[str]) -> frozenset[str]:
    """attrs converter: any iterable of names → a frozenset (typed, unlike `frozenset`)."""
    return frozenset(items)


@attrs.frozen
class Ref:
    """An input that is another resource's attribute, known once that resource exists."""

    address: str
    attribute: str

    def __str__(self) -> str:
        return f"{self.address}.{self.attribute}"


def iter_refs(value: Any) -> Iterator[Ref]:
    """Every `Ref` nested anywhere in `value` (dicts, lists, tuples)."""
    found: list[Ref] = []

    def collect(node: Any) -> Any:
        if isinstance(node, Ref):
            found.append(node)
            return node
        return DESCEND
    walk(value, collect)
    return iter(found)


def substitute_refs(value: Any, lookup: Callable[[Ref], Any]) -> Any:
    """`value` with each `Ref` replaced by `lookup(ref)`; tuples become lists (JSON)."""
    return walk(value, lambda node: lookup(node) if isinstance(node, Ref) else DESCEND)


@attrs.frozen
class Resource:
    """One remote object the configuration asks for.

    `inputs` are JSON values, possibly holding `Ref`s. `identity` is what the object will
    carry remotely (a job name, a namespace name...) so that a run killed between the
    mutating call and the state write finds it again instead of creating a duplicate.
    """

    address: str
    kind: str
    inputs: Mapping[str, Any] = attrs.field(factory=dict)
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    identity: Mapping[str, Any] = attrs.field(factory=dict)
    provider: str = ""

    def dependencies(self) -> tuple[str, ...]:
        """Explicit dependencies plus every resource an input refers to, in order."""
        seen = dict.fromkeys(self.depends_on)
        for ref in iter_refs(self.inputs):
            seen.setdefault(ref.address)
        return tuple(seen)


@attrs.frozen
class KindSpec:
    """How the planner may change objects of one kind.

    An input listed in `updatable` changes in place through `Driver.update`; a change to
    any other input forces replacement (the safe default: never plan an update the
    driver cannot perform). `expires` marks kinds that end by themselves (jobs, leases);
    `deploy` marks what `init(force_deploy=True)` redoes (deployments, hosts).
    `repairs_drift` says drift on a living object is repaired in place by `update`
    (e.g. redeploying only the nodes that failed) instead of replacing the object.
    `update_changes` names the attributes an update may change: what refers to them
    is "(known after apply)" while the update is planned.
    """

    name: str
    updatable: frozenset[str] = attrs.field(default=frozenset(), converter=str_set)
    expires: bool = False
    deploy: bool = False
    repairs_drift: bool = False
    update_changes: frozenset[str] = attrs.field(default=frozenset(), converter=str_set)
    description: str = ""


@attrs.frozen
class Observed:
    """What a refresh saw of one recorded object.

    `alive` False means gone (expired, killed, deleted outside); `reason` says which in
    words for the plan. `drift` lists what changed outside on a living object that the
    configuration still wants as recorded; the planner replaces such objects.
    """

    alive: bool
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    reason: str = ""
    drift: tuple[str, ...] = attrs.field(default=(), converter=str_tuple)
    expires_at: float | None = None


@attrs.frozen
class Capabilities:
    """What a driver can do beyond create/delete."""

    advance_reservation: bool = False
    test_slot: bool = False
    walltime_update: bool = False
    max_concurrent_calls: int = 10


@attrs.frozen
class SlotCheck:
    """A driver's answer to "could this configuration start at `start`?".

    `ok` is None when the driver cannot check availability in advance (the caller must
    say so, never assume "yes"). `reason` says what blocks (cluster, counts, times);
    `hint` is an epoch before which the answer cannot become yes (None: unknown).
    """

    ok: bool | None
    reason: str = ""
    hint: float | None = None


@runtime_checkable
class Reserving(Protocol):
    """Optional driver methods of testbeds with advance reservations
    (`capabilities.advance_reservation`); the planner's slot step uses them. A driver
    without them cannot reserve: its objects are made at apply, with no common start.

    Epochs are UTC seconds; drivers convert to the testbed's wall clock themselves.
    """

    def walltime(self, conf: Any) -> int:
        """The configuration's walltime in seconds."""
        ...

    def with_reservation(self, conf: Any, start: float, offset: int = 0) -> Any:
        """A copy of `conf` reserving at `start` with the walltime changed by `offset`
        seconds (raises NegativeWalltime when it would be zero or less)."""
        ...

    def recorded_reservation(self, conf: Any, records: Mapping[str, Record]
                             ) -> tuple[float, int] | None:
        """(start epoch, walltime s) of the live jobs `records` hold when they were made
        by the slot step (conf without a reservation), so a reload keeps them."""
        ...


@runtime_checkable
class SlotTesting(Protocol):
    """The availability check of a `Reserving` driver, needed with
    `capabilities.test_slot`: without it the plan says the driver cannot check
    availability, it never assumes "yes"."""

    def test_slot(self, conf: Any, start: float, end: float) -> SlotCheck:
        """Whether the configuration's resources are free from `start` for the walltime
        (`end` is the end of the search window)."""
        ...


@runtime_checkable
class ReservationConf(Protocol):
    """What the slot step reads of a reserving provider's configuration:
    `reservation`, a start the user fixed (the slot step leaves it alone), and `sites`,
    one reserving job each (a configuration without them makes one job)."""

    reservation: str | None

    @property
    def sites(self) -> Sequence[str]:
        """The sites the configuration reserves on."""
        ...


@attrs.frozen
class DriverContext:
    """Where a driver runs: the stack it serves and the directory it may keep files in."""

    stack_name: str
    stack_id: str
    state_dir: Path
    options: Mapping[str, Any] = attrs.field(factory=dict)


class ApplyContext(Protocol):
    """Handed to create/update/delete by the executor."""

    existing: Mapping[str, Any] | None
    """Attributes of an object an interrupted run left behind: adopt it, never resubmit."""

    def checkpoint(self, attributes: Mapping[str, Any]) -> None:
        """Persist remote ids now, before any long wait (write-ahead)."""

    def progress(self, message: str) -> None:
        """Report progress of a long operation (queue position, deploy percent...)."""

    def sleep(self, seconds: float) -> None:
        """Wait between polls; raises `ApplyInterrupted` when the run is being stopped."""


@runtime_checkable
class Driver(Protocol):
    """A testbed driver. One instance serves one provider section of one stack."""

    type_name: ClassVar[str]
    kinds: ClassVar[Mapping[str, KindSpec]]
    capabilities: ClassVar[Capabilities]

    def __init__(self, context: DriverContext) -> None: ...

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """JSON schema of this provider's configuration section (without `type`)."""
        ...

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> Any:
        """Validate a configuration section into the provider's conf object.

        A classmethod: configuration is checked before any state or context exists.
        Raises `ConfigError` whose path is relative to the section.
        """
        ...

    def preflight(self, conf: Any = None) -> None:
        """Check this machine can run the driver (for `conf`, when the stack has it);
        raise `PreflightError` saying the fix."""
        ...

    def expand(self, name: str, conf: Any, records: Mapping[str, Record]) -> list[Resource]:
        """The desired resources for provider instance `name`, addresses prefixed by it.

        `records` is what the state holds for this instance, so that allocations made
        earlier (addresses, node-to-role mappings) stay as they are: a later apply never
        reshuffles them.
        """
        ...

    def refresh(self, records: Sequence[Record]) -> dict[str, Observed]:
        """Observe every given record in as few API calls as possible (batched).

        Records in `pending_create` are looked up by their identity: alive means an
        interrupted run created them and they are to be adopted. Called with no records
        for a provider of the stack that has nothing recorded yet: a driver may check its
        access there (one cheap authenticated read), so that `plan` reports bad
        credentials before `apply`.
        """
        ...

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        """Create the object (inputs resolved); return its attributes."""
        ...

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        """Change the `updatable` inputs of an existing object in place."""
        ...

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Delete the object; an object already gone counts as deleted."""
        ...

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        """Attributes of an existing object that `resource` should now manage.

        Raises `ProviderError` when no such object exists.
        """
        ...

    def inventory(self, name: str, conf: Any, records: Mapping[str, Record]
                  ) -> tuple[Roles, Networks]:
        """Roles and networks (EnOSlib objects) of the applied records of this provider."""
        ...

