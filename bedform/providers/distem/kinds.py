"""Kind handlers of the Distem provider (the job and the deployment are the G5k ones).

- `distem_key` (`<name>.key`): the stack's ed25519 key pair, in the state directory
  (never the user's ./keys): the vnodes' root key.
- `distem_bootstrap` (`<name>.bootstrap`): bootstrap.py's scripts on the deployed pnodes
  (one SSH session each), then, through the coordinator's API, `GET /pnodes` until
  distemd answers (bounded) and `POST /pnodes/` for the pnodes it does not know yet.
  The coordinator is the first pnode in sorted order.
- `distem_vnetwork` (`<name>.vnetwork`): the vnetwork over the job's subnet, adopted by
  name.
- `distem_vnode` (`<name>.vnode[<group>/<k>]`): vnode `vnode-<group>-<k>` on its group's
  `k mod n`-th sorted pnode, at the subnet address of its slot (kept in the state):
  create, file system, `if0` on the vnetwork at that address, start. A vnode found under
  its name (an interrupted run) is adopted when it runs where and as wanted, else removed
  and made again: never two.

Refresh reads the coordinator once (`GET /pnodes`, `/vnetworks`, `/vnodes`, one port
forward) for every kind; everything dies with the job.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from bedform import machines
from bedform.errors import EnosUnreachableHostsError, ProviderError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.distem import bootstrap
from bedform.providers.distem.client import DistemApiError, coordinator_api
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.lifecycle import Wait, delete_if_present, poll
from bedform.providers.vmong5k.kinds import _job_gone
from bedform.providers.vmong5k.placement import sorted_nodes
from bedform.state.model import Record

if TYPE_CHECKING:
    from bedform.providers.distem.driver import DistemDriver

BOOTSTRAP_TIMEOUT = 900
DAEMON_WAIT = Wait("distemd to answer on port 4567", pending={"down"}, target={"up"},
                   timeout=60, delays=(0.2, 0.5, 1.0))
SSH_WAIT = Wait("the pnodes to answer SSH after their deployment", pending={"unreachable"},
                target={"done"}, timeout=120, delays=(0.5, 1.0, 2.0, 5.0))
VIFACE = "if0"


def slot_address(subnets: Sequence[str], slot: int) -> str:
    """Address `slot` of the first subnet, from its first host address, with its prefix."""
    net = sorted((ipaddress.IPv4Network(s) for s in subnets),
                 key=lambda n: int(n.network_address))[0]
    if slot >= net.num_addresses - 2:
        raise ProviderError(f"address slot {slot} is beyond the subnet {net}")
    return f"{net.network_address + 1 + slot}/{net.prefixlen}"


class Listing:
    """What one refresh read of each coordinator (None: distemd does not answer)."""

    def __init__(self, driver: DistemDriver) -> None:
        self.driver = driver
        self._seen: dict[str, dict[str, Any] | None] = {}

    def get(self, coordinator: str, jump: Mapping[str, Any]) -> dict[str, Any] | None:
        if coordinator not in self._seen:
            with coordinator_api(coordinator, jump, self.driver.keyfile) as api:
                try:
                    self._seen[coordinator] = {
                        "pnodes": {p["address"] for p in api.call("pnodes_info")},
                        "vnetworks": {n["name"]: n
                                      for n in api.call("get_json", "/vnetworks")},
                        "vnodes": {v["name"]: v for v in api.call("vnodes_info")}}
                except requests.ConnectionError:
                    self._seen[coordinator] = None
        return self._seen[coordinator]


def _listing(record: Record, view: RefreshView) -> tuple[dict[str, Any] | None, Observed | None]:
    """The coordinator's listing for a record, or the Observed saying it is gone."""
    gone = _job_gone(record, view)
    if gone is not None:
        return None, gone
    coordinator = record.attributes.get("coordinator")
    if not coordinator or view.snapshot is None:
        return None, None
    listing = view.snapshot.get(coordinator, record.inputs.get("jump") or {})
    if listing is None:
        return None, Observed(alive=False, reason=f"distemd on {coordinator} does not answer")
    return listing, None


class KeyKind(KindHandler["DistemDriver"]):
    """The stack's key pair (module docstring)."""

    spec = KindSpec("distem_key", description="the vnodes' key pair, in the state directory")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        result = {}
        for record in records:
            path = Path(str(record.attributes.get("path")))
            pub = path.with_name(path.name + ".pub")
            if not path.exists() or not pub.exists() or \
                    pub.read_text().split()[:2] != str(record.attributes.get("public")).split()[:2]:
                result[record.address] = Observed(alive=False,
                                                  reason=f"key pair {path} removed or changed")
        return result

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        path = Path(resource.inputs["path"])
        public = machines.ensure_keypair(path, resource.inputs["comment"])
        return {"path": str(path), "public": public}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        path = Path(str(record.attributes.get("path")))
        machines.remove_file(path)
        machines.remove_file(path.with_name(path.name + ".pub"))


class BootstrapKind(KindHandler["DistemDriver"]):
    """distemd on the coordinator, every pnode initialised (module docstring)."""

    spec = KindSpec("distem_bootstrap", deploy=True,
                    description="distem on the pnodes, distemd on the coordinator")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        result = {}
        for record in records:
            listing, gone = _listing(record, view)
            if gone is not None:
                result[record.address] = gone
            elif listing is not None:
                missing = sorted(set(record.attributes.get("pnodes") or []) - listing["pnodes"])
                result[record.address] = Observed(
                    alive=not missing,
                    reason=f"pnodes {', '.join(missing)} left Distem" if missing else "")
        return result

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        nodes = sorted_nodes(n for group in inputs["assigned"] for n in group)
        failed = [n for n in nodes if n not in (inputs["deployed"] or [])]
        if failed:
            raise ProviderError(f"{', '.join(failed)} failed to deploy: Distem needs every "
                                "pnode", hint="The next `bedform apply` redeploys them.")
        coordinator = nodes[0]
        private = Path(inputs["key_path"]).read_text()
        scripts = {node: (bootstrap.coordinator_script if node == coordinator
                          else bootstrap.node_script)(inputs["public_key"], private)
                   for node in nodes}
        ctx.progress(f"setting up Distem on {len(nodes)} pnode(s), coordinator {coordinator}")

        def set_up() -> tuple[bool, str]:
            try:
                self.driver.run_on(scripts, inputs["jump"], BOOTSTRAP_TIMEOUT)
            except EnosUnreachableHostsError as error:   # a node still booting
                ctx.progress(str(error))
                return True, "unreachable"
            return True, "done"
        poll(ctx, SSH_WAIT, set_up)
        with coordinator_api(coordinator, inputs["jump"], inputs["key_path"]) as api:
            def read() -> tuple[list[Any] | None, str | None]:
                try:
                    return list(api.call("pnodes_info")), "up"
                except requests.ConnectionError:
                    return [], "down"
            known = {p["address"] for p in poll(ctx, DAEMON_WAIT, read)}
            missing = [n for n in nodes if n not in known]
            if missing:
                ctx.progress(f"initialising {len(missing)} pnode(s) in distemd")
                api.call("pnode_init", missing)
        return {"coordinator": coordinator, "pnodes": nodes, "job_uid": inputs["job_uid"]}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """`DELETE /pnodes`: distemd drops every vnode and quits."""
        coordinator = record.attributes.get("coordinator")
        if coordinator:
            _quietly(coordinator, record, lambda api: api.call("pnodes_quit"))


def _quietly(coordinator: str, record: Record, action: Any) -> None:
    """Run `action(api)`; a coordinator that does not answer, or an object distemd does
    not know, counts as gone (its job went with it)."""
    try:
        with coordinator_api(coordinator, record.inputs.get("jump") or {},
                             record.inputs.get("key_path")) as api:
            delete_if_present(lambda: action(api),
                              lambda e: isinstance(e, DistemApiError) and e.not_found)
    except requests.ConnectionError:
        pass


class VnetworkKind(KindHandler["DistemDriver"]):
    """The vnetwork over the job's subnet (module docstring)."""

    spec = KindSpec("distem_vnetwork", description="Distem virtual network on the subnet")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        result = {}
        for record in records:
            listing, gone = _listing(record, view)
            if gone is not None:
                result[record.address] = gone
            elif listing is not None:
                found = listing["vnetworks"].get(record.attributes.get("name"))
                if found is None or found["address"] != record.attributes.get("address"):
                    result[record.address] = Observed(
                        alive=False, reason=f"vnetwork {record.attributes.get('name')} "
                                            "removed outside bedform")
        return result

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        name = inputs["name"]
        address = str(sorted(ipaddress.IPv4Network(s) for s in inputs["subnets"])[0])
        with coordinator_api(inputs["coordinator"], inputs["jump"], inputs["key_path"]) as api:
            found = api.find("vnetwork_info", name)
            if found is not None and found.get("address") != address:
                api.call("vnetwork_remove", name)
                found = None
            if found is None:
                api.call("vnetwork_create", name, address)
            else:
                ctx.progress(f"adopting vnetwork {name} left by an earlier run")
        return {"name": name, "address": address, "coordinator": inputs["coordinator"],
                "job_uid": inputs["job_uid"]}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        name = record.attributes.get("name")
        coordinator = record.attributes.get("coordinator")
        if name and coordinator:
            _quietly(coordinator, record, lambda api: api.call("vnetwork_remove", name))


class VnodeKind(KindHandler["DistemDriver"]):
    """One vnode (module docstring)."""

    spec = KindSpec("distem_vnode", description="one Distem vnode: pnode, address, image")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        result = {}
        for record in records:
            listing, gone = _listing(record, view)
            if gone is not None:
                result[record.address] = gone
                continue
            if listing is None:
                continue
            name = record.attributes.get("name")
            vnode = listing["vnodes"].get(name)
            if vnode is None:
                result[record.address] = Observed(
                    alive=False, reason=f"vnode {name} removed outside bedform")
            elif vnode.get("status") != "RUNNING":
                result[record.address] = Observed(
                    alive=False, reason=f"vnode {name} is {vnode.get('status')} (stopped "
                                        "outside bedform)")
            elif vnode.get("host") != record.attributes.get("pnode"):
                result[record.address] = Observed(
                    alive=False, reason=f"vnode {name} moved to {vnode.get('host')}")
            else:
                result[record.address] = Observed(alive=True)
        return result

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        name = inputs["name"]
        nodes = sorted_nodes(inputs["assigned"][inputs["group"]])
        pnode = nodes[inputs["position"] % len(nodes)]
        address = slot_address(inputs["subnets"], inputs["slot"])
        attributes = {"name": name, "pnode": pnode, "address": address.split("/")[0],
                      "prefix": int(address.split("/")[1]),
                      "coordinator": inputs["coordinator"], "job_uid": inputs["job_uid"]}
        with coordinator_api(inputs["coordinator"], inputs["jump"], inputs["key_path"]) as api:
            found = api.find("vnode_info", name)
            if found is not None:
                addresses = [v.get("address") for v in found.get("vifaces") or []]
                if found.get("status") == "RUNNING" and found.get("host") == pnode \
                        and addresses == [address]:
                    ctx.progress(f"adopting vnode {name} left by an earlier run")
                    return attributes
                ctx.progress(f"removing vnode {name} left half-made by an earlier run")
                api.call("vnode_remove", name)
            ctx.checkpoint(attributes)   # write-ahead: the name is the vnode's identity
            key = {"public": inputs["public_key"],
                   "private": Path(inputs["key_path"]).read_text()}
            api.call("vnode_create", name, {"host": pnode}, key)
            api.call("vfilesystem_create", name, {"image": inputs["image"]})
            api.call("viface_create", name, VIFACE,
                     {"vnetwork": inputs["vnetwork"], "default": "true", "address": address})
            api.call("vnode_start", name)
        return attributes

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        name = record.attributes.get("name")
        coordinator = record.attributes.get("coordinator")
        if name and coordinator:
            _quietly(coordinator, record, lambda api: api.call("vnode_remove", name))
