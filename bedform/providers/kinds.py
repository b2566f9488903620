"""Kind handlers: one class per resource kind, and the driver base that dispatches to them.

A provider's driver is configuration + expansion + a tuple of `KindHandler`s +
inventory. `KindDriver` implements the refresh/create/update/delete/import part of the
`Driver` protocol by dispatching on `Record.kind` / `Resource.kind`: an unknown kind is an
error naming the resource, and client library errors become bedform errors (the
executor puts the resource address in front of every error).

Failure rules every handler follows:

- `create` either leaves nothing behind, or has checkpointed (`ctx.checkpoint`) the ids
  of what it made before failing, so the next run adopts or deletes it.
- `delete` of an object already gone succeeds; a failed `delete` means the object is
  assumed to still exist (its record stays in the state).
- `refresh` never mutates anything and is batched: one listing for all records of the
  kind, not one call per record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import attrs

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, DriverContext, KindSpec, Observed, Resource
from bedform.providers.lifecycle import client_errors
from bedform.state.model import Record

DriverT = TypeVar("DriverT", bound="KindDriver")


@attrs.define
class RefreshView:
    """What one refresh has seen so far.

    `observed` holds the results of the kinds refreshed before (handlers run in the
    driver's order, so a deployment sees whether its job is alive); `snapshot` is the
    driver's shared observation of this refresh (e.g. one netlink dump for every kind).
    """

    observed: dict[str, Observed] = attrs.field(factory=dict)
    snapshot: Any = None


class KindHandler(Generic[DriverT]):
    """Create, read, update and delete the objects of one kind.

    `driver` gives access to the provider's client and context. The defaults: refresh
    reports nothing (the record is taken as it is), update is impossible (only kinds
    whose spec lists `updatable` inputs or `repairs_drift` override it), import is
    unsupported.
    """

    spec: ClassVar[KindSpec]
    import_format: ClassVar[str] = ""
    """What `bedform import ADDRESS REMOTE_ID` takes as REMOTE_ID for this kind."""

    def __init__(self, driver: DriverT) -> None:
        self.driver = driver

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        """Observe `records` (all of this kind) in as few calls as possible."""
        return {}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        """Create (or adopt, see `lifecycle.adopt_or_create`) the object; its attributes."""
        raise NotImplementedError

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        """Change the object in place (updatable inputs, or drift repair)."""
        raise ProviderError(f"{self.spec.name} objects cannot be changed in place",
                            hint="This is a bug in the provider: its kind declares no "
                                 "updatable input.")

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Delete the object; one already gone counts as deleted."""
        raise NotImplementedError

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        """Attributes of the existing object `remote_id` that `resource` should manage."""
        raise ProviderError(f"{self.spec.name} objects cannot be imported",
                            hint="Let `bedform apply` create or adopt it instead.")


class KindDriver:
    """Base of drivers made of kind handlers (see the module docstring).

    Subclasses set `handlers` (in refresh order: what others depend on first) and may
    override `snapshot` to observe the testbed once per refresh for every kind.
    """

    type_name: ClassVar[str]
    handlers: ClassVar[tuple[type[KindHandler[Any]], ...]] = ()
    kinds: ClassVar[Mapping[str, KindSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kinds = {handler.spec.name: handler.spec for handler in cls.handlers}

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self._handlers: dict[str, KindHandler[Any]] = {
            handler.spec.name: handler(self) for handler in self.handlers}

    def handler(self, kind: str, address: str) -> KindHandler[Any]:
        """The handler of `kind`; an unknown kind is an error naming `address`."""
        try:
            return self._handlers[kind]
        except KeyError:
            known = ", ".join(self._handlers)
            raise ProviderError(
                f"{address}: kind {kind!r} is not a kind of the {self.type_name} provider",
                hint=f"Its kinds are: {known}. Was the state edited by hand, or written by "
                     "another version of bedform?") from None

    def snapshot(self, records: Sequence[Record]) -> Any:
        """One observation shared by every kind's refresh (default: none)."""
        return None

    def refresh(self, records: Sequence[Record]) -> dict[str, Observed]:
        by_kind: dict[str, list[Record]] = {}
        for record in records:
            self.handler(record.kind, record.address)
            by_kind.setdefault(record.kind, []).append(record)
        with client_errors():
            view = RefreshView(snapshot=self.snapshot(records) if records else None)
            for kind, handler in self._handlers.items():
                if kind in by_kind:
                    view.observed.update(handler.refresh(by_kind[kind], view))
        return view.observed

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        handler = self.handler(resource.kind, resource.address)
        with client_errors():
            return handler.create(resource, ctx)

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        handler = self.handler(resource.kind, resource.address)
        with client_errors():
            return handler.update(resource, record, ctx)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        handler = self.handler(record.kind, record.address)
        with client_errors():
            handler.delete(record, ctx)

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        handler = self.handler(resource.kind, resource.address)
        with client_errors():
            return handler.import_object(resource, remote_id)

    @classmethod
    def import_formats(cls) -> dict[str, str]:
        """Per kind, what `bedform import` takes as REMOTE_ID ("" when not importable)."""
        return {handler.spec.name: handler.import_format for handler in cls.handlers}
