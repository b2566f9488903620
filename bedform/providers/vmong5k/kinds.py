"""The kinds of the VMonG5k provider beyond the G5k job and deployment.

- `vmong5k_hypervisor` (`<name>.hypervisor[<group>/<position>]`): the node's set-up
  (`domain.setup_script`), one SSH session at create.
- `vmong5k_domains` (`<name>.domains[<group>/<position>]`): the batch of one node,
  whose input `vms` (updatable) lists its VMs (address slot, flavour): one SSH session
  defines and starts the new or changed ones and destroys and undefines the ones no
  longer listed.
- `vmong5k_vm` (`<name>.vm[<group>/<k>]`): one VM, after its node's batch; inputs
  flavour, image, node, address slot and subnet; its create computes MAC, IP, name and
  domain XML (`domain_spec`, the same function as the batch; no remote call). Refresh
  reads the driver's snapshot, one `virsh list --all` per node: a domain shut off or
  undefined outside bedform is drift repaired by `update`, one SSH session for that VM
  alone. A VM whose flavour changes is replaced (no remote call) while its node's
  batch redefines that domain alone.

The batch does not refer to the VM resources (a new VM would make the planner replace
the batch, restarting the node's every VM): both derive the domain from the same inputs.

Every object of these kinds dies with the job: when the job is gone they are gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bedform.errors import ProviderError
from bedform.objects import Host
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.providers.vmong5k import domain, placement
from bedform.state.model import Record

if TYPE_CHECKING:
    from bedform.providers.vmong5k.driver import VMonG5kDriver  # noqa: F401 - in a string

SETUP_TIMEOUT = 900
BATCH_TIMEOUT = 1800


def node_host(node: str, jump: Mapping[str, Any]) -> Host:
    """The node as root, through the access gateway when outside Grid'5000."""
    return Host(node, alias=node, user="root", extra=dict(jump))


def _job_gone(record: Record, view: RefreshView) -> Observed | None:
    """Not alive when the job the record depends on is gone or was replaced."""
    for address in record.dependencies:
        if ".job[" not in address:
            continue
        job = view.observed.get(address)
        if job is not None and (not job.alive or job.attributes.get("uid")
                                != record.attributes.get("job_uid")):
            return Observed(alive=False, reason=f"its job {address} is gone")
    return None


def domain_spec(vm: Mapping[str, Any], common: Mapping[str, Any]) -> dict[str, Any]:
    """Name, addresses, disk and XML of one VM: `vm` holds its slot, flavour and extra
    disk or devices; `common` the subnets, skip, working_dir, domain_type, strategy, key
    of its provider, and its bridge and direct_boot when the configuration sets them."""
    where = placement.address(common["subnets"], vm["slot"], common.get("skip", 0))
    name = where["name"]
    working_dir = common["working_dir"]
    extra_disk = f"{working_dir}/{name}-extra.raw" if vm.get("disk_gb") else None
    disk = f"{working_dir}/{name}.qcow2"
    xml = domain.render_xml(
        name=name, core=vm["flavour"]["core"], mem_mib=vm["flavour"]["mem"],
        mac=where["mac"], disk=disk, domain_type=common["domain_type"],
        bridge=common.get("bridge", domain.BRIDGE), key=common.get("key", ""),
        extra_devices=vm.get("extra_devices", ""), extra_disk=extra_disk,
        direct_boot=common.get("direct_boot"))
    spec = {**where, "xml": xml, "digest": domain.digest(xml), "disk": disk,
            "strategy": common["strategy"]}
    if extra_disk:
        spec.update(extra_disk=extra_disk, extra_disk_gb=vm["disk_gb"])
    return spec


class HypervisorKind(KindHandler["VMonG5kDriver"]):
    """A node made ready for VMs (module docstring)."""

    spec = KindSpec("vmong5k_hypervisor", deploy=True,
                    description="libvirt, base image and bridge on one node")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        return {r.address: gone for r in records if (gone := _job_gone(r, view))}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        nodes = placement.sorted_nodes(inputs["assigned"][inputs["group"]])
        position = inputs["position"]
        if position >= len(nodes):
            raise ProviderError(f"the job gave {len(nodes)} node(s) to this group, no node "
                                f"at position {position}")
        node = nodes[position]
        if node not in inputs["deployed"]:
            raise ProviderError(f"{node} failed to deploy: no VM can run on it",
                                hint="The next `bedform apply` redeploys it; or ask for "
                                     "another node (`undercloud`, or more `nodes`).")
        script = domain.setup_script(working_dir=inputs["working_dir"], image=inputs["image"],
                                     bridge=inputs.get("bridge", domain.BRIDGE))
        ran = self.driver.run_on({node: script}, inputs["jump"], SETUP_TIMEOUT, ctx)
        return {"node": node, "job_uid": inputs["job_uid"], "executed": ran}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Nothing to undo: the node goes back with the job (redeployed next time)."""


class VmKind(KindHandler["VMonG5kDriver"]):
    """One VM: placement, addresses and domain XML (module docstring)."""

    spec = KindSpec("vmong5k_vm", repairs_drift=True,
                    description="one VM: flavour, image, node, MAC and IP")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        listings: Mapping[str, dict[str, str] | None] = view.snapshot or {}
        result: dict[str, Observed] = {}
        for record in records:
            gone = _job_gone(record, view)
            node = str(record.attributes.get("node"))
            name = str(record.attributes.get("name"))
            if gone is not None:
                result[record.address] = gone
            elif node not in listings:
                continue   # not listed (nodes not reachable by configuration)
            elif listings[node] is None:   # the repair says what SSH answers then
                result[record.address] = Observed(
                    alive=True, drift=(f"its hypervisor {node} does not answer",))
            elif name not in (listings[node] or {}):
                result[record.address] = Observed(
                    alive=True, drift=(f"domain {name} undefined outside bedform",))
            elif (state := (listings[node] or {})[name]) != "running":
                result[record.address] = Observed(
                    alive=True, drift=(f"domain {name} {state} outside bedform",))
            else:
                result[record.address] = Observed(alive=True)
        return result

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        spec = domain_spec(inputs, inputs)
        return {"name": spec["name"], "mac": spec["mac"], "ip": spec["ip"],
                "prefix": spec["prefix"], "node": inputs["node"],
                "job_uid": inputs["job_uid"], "domain": spec}

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        """Drift repair: define (if undefined) and start this VM alone."""
        attributes = record.attributes
        script = domain.domains_script(working_dir=resource.inputs["working_dir"],
                                       create=[attributes["domain"]])
        ctx.progress(f"restarting {attributes['name']} on {attributes['node']}")
        self.driver.run_on({attributes["node"]: script}, resource.inputs["jump"],
                           BATCH_TIMEOUT, ctx)
        return dict(attributes)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Nothing here: the node's `vmong5k_domains` batch removes the domain."""


class DomainsKind(KindHandler["VMonG5kDriver"]):
    """The batch of one node (module docstring)."""

    spec = KindSpec("vmong5k_domains", updatable={"vms"},
                    description="the VMs of one node, started in one SSH session")

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        return {r.address: gone for r in records if (gone := _job_gone(r, view))}

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        previous = dict((ctx.existing or {}).get("domains") or {})
        return self._apply(resource, previous, ctx, fresh=True)

    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        return self._apply(resource, dict(record.attributes.get("domains") or {}), ctx,
                           fresh=False)

    def _apply(self, resource: Resource, previous: Mapping[str, str], ctx: ApplyContext,
               fresh: bool) -> dict[str, Any]:
        inputs = resource.inputs
        node = inputs["node"]
        wanted = [domain_spec(vm, inputs) for vm in inputs["vms"]]
        desired = {d["name"]: d["digest"] for d in wanted}
        changed = [d for d in wanted if fresh or previous.get(d["name"]) != d["digest"]]
        remove = sorted(n for n, h in previous.items() if desired.get(n) != h)
        # write-ahead: a run killed mid-batch leaves these recorded, to adopt or delete
        ctx.checkpoint({"node": node, "job_uid": inputs["job_uid"],
                        "domains": {**previous, **desired}})
        if changed or remove:
            ctx.progress(f"{node}: starting {len(changed)} and removing {len(remove)} "
                         "domain(s) in one session")
            script = domain.domains_script(working_dir=inputs["working_dir"],
                                           create=changed, remove=remove)
            self.driver.run_on({node: script}, inputs["jump"], BATCH_TIMEOUT, ctx)
        return {"node": node, "job_uid": inputs["job_uid"], "domains": desired,
                "count": len(desired)}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        node = record.attributes.get("node")
        names = sorted(record.attributes.get("domains") or {})
        if not node or not names:
            return
        script = domain.domains_script(working_dir=record.inputs["working_dir"],
                                       create=[], remove=names)
        # a node that no longer answers went back with its job: its domains with it
        self.driver.run_on({node: script}, record.inputs["jump"], BATCH_TIMEOUT, ctx,
                           unreachable_ok=True)
