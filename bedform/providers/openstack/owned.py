"""What every Neutron kind of the provider shares: ownership and the refresh by id.

bedform marks what it makes with the description `bedform stack <name>` (client.MARKER)
and adopts an object only when it has the expected name and that mark, so a run killed
after a create finds its object again, and an object of another stack (or made by
hand) with the same name is never taken, changed nor deleted. Pre-existing objects
read with `configure_network: false` are recorded with `managed: false`; their delete
only forgets them (the engine has no read-only "data source" action, so they are
resources whose delete is a no-op).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, Observed
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import adopt_or_create
from bedform.providers.openstack.client import MARKER, refusal
from bedform.providers.openstack.listing import Listing
from bedform.state.model import Record, Status


def marker(stack: str) -> str:
    """The description of the objects of `stack`."""
    return MARKER.format(stack=stack)


def find_owned(items: Sequence[Any], name: str, mark: str, what: str) -> str | None:
    """The id of the object named `name` that carries `mark`; None when there is none;
    a ProviderError when only objects of someone else have that name."""
    named = [item for item in items if item.name == name]
    ours = sorted(item.id for item in named if (item.description or "") == mark)
    if ours:
        return ours[0]
    if named:
        raise ProviderError(
            f"a {what} named {name!r} exists ({named[0].id}) and was not made by this "
            "stack", hint=f"Choose another `prefix` (or name), delete that {what}, or "
                          "use it read-only with `configure_network: false`.")
    return None


def find_named(items: Sequence[Any], name: str, what: str, hint: str) -> Any:
    """The one pre-existing object named `name` (or with that id); errors name it."""
    named = [item for item in items if name in (item.name, item.id)]
    if not named:
        raise ProviderError(f"no {what} named {name!r} in the project", hint=hint)
    if len(named) > 1:
        raise ProviderError(f"{len(named)} {what}s are named {name!r}",
                            hint=f"Give the {what}'s id instead of its name.")
    return named[0]


def create_owned(ctx: ApplyContext, what: str, name: str, mark: str,
                 listed: Callable[[], Iterable[Any]], make: Callable[[], Any]) -> str:
    """The id of our object named `name`: checkpointed by an interrupted run, else
    found by name + mark in `listed()`, else made by `make()` (a refusal of the cloud
    says what it was)."""
    def create() -> str:
        with refusal(f"{what} {name}"):
            return make().id
    return adopt_or_create(ctx, "id", find=lambda: find_owned(list(listed()), name, mark, what),
                           create=create, label=f"{what} {name}")


def refresh_listed(records: Sequence[Record], listed: Iterable[Any],
                   identified: Callable[[Any, Record], bool],
                   observe: Callable[[Record, Any], Observed], gone: str
                   ) -> dict[str, Observed]:
    """What one listing says of each record: its object found by the recorded id (or,
    for a pending create, the first one `identified` as its), else gone (`gone` says
    why in the plan)."""
    objects = list(listed)
    by_id = {item.id: item for item in objects}
    result: dict[str, Observed] = {}
    for record in records:
        obj = by_id.get(record.attributes.get("id", ""))
        if obj is None and record.status == Status.PENDING_CREATE:
            obj = next((o for o in objects if identified(o, record)), None)
        result[record.address] = Observed(alive=False, reason=gone) if obj is None \
            else observe(record, obj)
    return result


class NeutronKind(KindHandler[Any]):
    """Base of the Neutron kinds: refresh from one listing, delete by id.

    Subclasses set `listing` (the `Listing` method of their collection), `what` (words
    for messages), `delete_call` (the name of the `conn.network` delete method) and
    implement `attributes(obj)`.
    """

    listing: ClassVar[Callable[[Listing], list[Any]]]
    what: ClassVar[str]
    delete_call: ClassVar[str]

    def attributes(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        return refresh_listed(
            records, type(self).listing(view.snapshot),
            identified=lambda o, r: o.name == r.identity.get("name")
            and (o.description or "") == r.identity.get("mark"),
            observe=lambda record, obj: self.observe(record, obj, view),
            gone=f"{self.what} deleted outside")

    def observe(self, record: Record, obj: Any, view: RefreshView) -> Observed:
        """What the refresh says of a living object (default: alive, as listed)."""
        return Observed(alive=True, attributes={**record.attributes, **self.attributes(obj)})

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        object_id = record.attributes.get("id")
        if object_id is None or record.inputs.get("managed", True) is False:
            return
        getattr(self.driver.conn.network, self.delete_call)(object_id, ignore_missing=True)
