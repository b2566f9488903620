"""The `os_server` kind: one Nova server, named `<prefix>-<group>-<n>`.

Identity is the exact name: a server left by a killed run (its id checkpointed, or
found by name) is adopted, never duplicated; growing a group adds servers with the next
numbers and never renames one. Readiness is ACTIVE, polled with a bounded wait (port
status is never awaited: clouds without a dataplane keep ports DOWN). A server in
ERROR (at build or later, outside bedform) is reported with Nova's fault message; the
next apply deletes it and builds a new one under the same name. `scheduler_hints`
(Chameleon's `reservation`) go to Nova as given. Refresh reads every
server of the stack from one listing (`Listing.servers`). Reused by the Chameleon
provider.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bedform.errors import ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import Wait, adopt_or_create, poll
from bedform.providers.openstack.client import is_not_found, refusal
from bedform.providers.openstack.owned import refresh_listed
from bedform.state.model import Record

BUILD_WAIT = 1800.0
"""How long a server may stay in BUILD (bare-metal builds take ~15 min)."""
DELETE_WAIT = 600.0
BUILDING = frozenset({"BUILD", "REBUILD", "HARD_REBOOT", "REBOOT", "MIGRATING", "RESIZE"})
GONE = frozenset({"DELETED", "SOFT_DELETED"})


def server_name(prefix: str, group: int, number: int) -> str:
    """`<prefix>-<group>-<n>`: group is the machine group's index, n counts from 0."""
    return f"{prefix}-{group}-{number}"


def fault_of(server: Any) -> str:
    fault = getattr(server, "fault", None) or {}
    return str(fault.get("message") or "no fault message") if isinstance(fault, Mapping) \
        else str(fault)


def server_attributes(server: Any, network: str | None) -> dict[str, Any]:
    """What the state records of a server: ids, status, its fixed address on `network`
    (its floating IP, if any, is recorded by the floating IP's record)."""
    entries = (server.addresses or {}).get(network or "", []) if network else \
        [e for entries in (server.addresses or {}).values() for e in entries]
    fixed = [e["addr"] for e in entries if e.get("OS-EXT-IPS:type", "fixed") == "fixed"]
    flavor = server.flavor or {}
    return {"id": server.id, "name": server.name, "status": server.status,
            "fixed_ip": fixed[0] if fixed else None,
            "flavor": flavor.get("original_name") or flavor.get("id"),
            "image_id": (server.image or {}).get("id")}


class _Fresh:
    """The apply context without what an interrupted run left (a broken server that
    was just deleted is not to be adopted)."""

    existing: Mapping[str, Any] | None = None

    def __init__(self, ctx: ApplyContext) -> None:
        self._ctx = ctx

    def checkpoint(self, attributes: Mapping[str, Any]) -> None:
        self._ctx.checkpoint(attributes)

    def progress(self, message: str) -> None:
        self._ctx.progress(message)

    def sleep(self, seconds: float) -> None:
        self._ctx.sleep(seconds)


class ServerKind(KindHandler[Any]):
    """Nova servers (see the module docstring)."""

    spec = KindSpec("os_server", deploy=True, description="Nova server")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        def observe(record: Record, server: Any) -> Observed:
            drift = [f"server {server.name} is in ERROR: {fault_of(server)}"] \
                if server.status == "ERROR" else []
            return Observed(alive=True, drift=drift, attributes=server_attributes(
                server, record.inputs.get("network")))
        return refresh_listed(
            records, [s for s in view.snapshot.servers() if s.status not in GONE],
            identified=lambda server, record: server.name == record.identity.get("name")
            and (server.metadata or {}).get("bedform_stack") == record.identity.get("stack"),
            observe=observe, gone="server deleted outside bedform")

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        name = inputs["name"]
        compute = self.driver.conn.compute
        recorded = (ctx.existing or {}).get("id")
        if recorded is not None:
            server = self._get(recorded)
            if server is None or server.status in GONE or server.status == "ERROR":
                if server is not None and server.status == "ERROR":
                    self._purge(ctx, server)
                ctx = _Fresh(ctx)

        def find() -> str | None:
            for server in compute.servers(details=True, name=f"^{re.escape(name)}$"):
                if server.name != name or server.status in GONE:
                    continue
                if (server.metadata or {}).get("bedform_stack") != inputs["stack"]:
                    raise ProviderError(
                        f"a server named {name!r} exists ({server.id}) and was not made "
                        "by this stack", hint="Choose another `prefix`, or delete it.")
                if server.status == "ERROR":
                    self._purge(ctx, server)
                    continue
                return server.id
            return None

        def make() -> str:
            image_id = self.driver.image_id(inputs["image"])
            flavor_id = self.driver.flavor_id(inputs["flavour"])
            with refusal(f"server {name}"):
                return compute.create_server(
                    name=name, image_id=image_id, flavor_id=flavor_id,
                    networks=[{"uuid": inputs["network_id"]}], key_name=inputs["key_name"],
                    security_groups=[{"name": inputs["security_group"]}],
                    metadata={"bedform_stack": inputs["stack"]},
                    **({"scheduler_hints": dict(inputs["scheduler_hints"])}
                       if inputs.get("scheduler_hints") else {})).id
        server_id = adopt_or_create(ctx, "id", find=find, create=make,
                                    label=f"server {name}")
        server = self.wait_active(ctx, server_id, name)
        return server_attributes(server, inputs.get("network"))

    def wait_active(self, ctx: ApplyContext, server_id: str, name: str) -> Any:
        """Poll the server until ACTIVE (bounded); ERROR fails with Nova's fault."""

        def read() -> tuple[Any, str | None]:
            server = self._get(server_id)
            if server is None:
                return None, None
            if server.status == "ERROR":
                raise ProviderError(
                    f"server {name} ({server_id}) went into ERROR: {fault_of(server)}",
                    hint="It stays recorded: the next `bedform apply` deletes it and "
                         "builds it again; `bedform destroy` deletes it.")
            return server, server.status
        return poll(ctx, Wait(what=f"server {name} ({server_id}) to be ACTIVE",
                              pending=BUILDING, target={"ACTIVE"}, timeout=BUILD_WAIT,
                              not_found=2),
                    read, lambda server, state: f"server {name} {state}")

    def _purge(self, ctx: ApplyContext, server: Any) -> None:
        ctx.progress(f"deleting server {server.name} ({server.id}) in ERROR: "
                     f"{fault_of(server)}")
        self.delete_and_wait(ctx, server.id, server.name)

    def delete_and_wait(self, ctx: ApplyContext, server_id: str, name: str) -> None:
        """Delete a server and wait (bounded) until Nova no longer lists it, so that its
        ports are gone before the subnet is deleted."""
        compute = self.driver.conn.compute
        compute.delete_server(server_id, ignore_missing=True)

        def read() -> tuple[Any, str | None]:
            server = self._get(server_id)
            if server is None or server.status in GONE:
                return "gone", "gone"
            return server, "deleting"
        poll(ctx, Wait(what=f"server {name} ({server_id}) to be deleted",
                       pending={"deleting"}, target={"gone"}, timeout=DELETE_WAIT), read)

    def _get(self, server_id: str) -> Any:
        """The server, or None when Nova answers 404."""
        try:
            return self.driver.conn.compute.get_server(server_id)
        except Exception as error:
            if is_not_found(error):
                return None
            raise

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        server_id = record.attributes.get("id")
        if server_id is None:
            return
        self.delete_and_wait(ctx, server_id, record.attributes.get("name", server_id))
