"""The Distem driver: containers (vnodes) on deployed nodes of one Grid'5000 job.

Resources of a provider instance `distem` (kinds in kinds.py; the job and deployment are
the G5k provider's handlers, fed by the G5k expansion of an equivalent G5k configuration:
a deploy job with one cluster group per vnode group and one `slash_22` subnet):

- `distem.job[<site>]`, `distem.deployment[<site>/prod-<site>]` (G5k kinds);
- `distem.key`: the stack's key pair in the state directory;
- `distem.bootstrap`: distem on every pnode, distemd on the coordinator;
- `distem.vnetwork`: the vnetwork over the subnet;
- `distem.vnode[<group>/<k>]`: one per vnode, on pnode `k mod n` of its group's sorted
  nodes, at the address slot recorded in the state (growing adds vnodes, never moves one).

Refresh costs what the G5k job costs plus three GETs on the coordinator (one port
forward). Reservation methods are the G5k driver's, applied to the equivalent G5k
configuration, so Distem takes part in multi-provider slots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bedform.errors import EnosUnreachableHostsError
from bedform.objects import Networks, Roles
from bedform.providers.base import Capabilities, Ref, Resource, SlotCheck
from bedform.providers.distem import config as distemconf
from bedform.providers.distem import inventory
from bedform.providers.distem.config import DistemConf
from bedform.providers.distem.kinds import (
    BootstrapKind,
    KeyKind,
    Listing,
    VnetworkKind,
    VnodeKind,
)
from bedform.providers.g5k.config import G5kConf
from bedform.providers.g5k.deployments import DeploymentKind
from bedform.providers.g5k.driver import G5kDriver
from bedform.providers.g5k.jobs import JobKind
from bedform.providers.g5k.remote_setup import _jump, executor
from bedform.providers.kinds import KindHandler
from bedform.providers.vmong5k import placement
from bedform.providers.vmong5k.kinds import node_host
from bedform.state.model import Record

ORIGIN = "origin=bedform_distem"


class DistemDriver(G5kDriver):
    """Driver of `type: distem` sections (a G5k driver with four more kinds)."""

    type_name = "distem"
    handlers: ClassVar[tuple[type[KindHandler[Any]], ...]] = (
        JobKind, DeploymentKind, KeyKind, BootstrapKind, VnetworkKind, VnodeKind)
    capabilities = Capabilities(advance_reservation=True, test_slot=True,
                                walltime_update=True, max_concurrent_calls=8)

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.keyfile: str | None = None

    # -- configuration -------------------------------------------------------------------
    @classmethod
    def schema(cls) -> dict[str, Any]:
        return distemconf.SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> DistemConf:  # type: ignore[override]
        return distemconf.load(section)

    def node_counts(self, conf: DistemConf) -> list[int]:
        """Nodes per vnode group: `nodes`, else EnOSlib's ceil(number * core / threads (or
        cores) per node) from the cluster's last node (one API call per cluster)."""
        counts = []
        for machine in conf.machines:
            if machine.nodes is not None:
                counts.append(machine.nodes)
            else:
                counts.append(max(1, placement.node_count(
                    machine.number, machine.core, 0,
                    self.last_node(machine.site, machine.cluster), machine.vcore_type)))
        return counts

    def g5k_conf(self, conf: DistemConf, counts: Sequence[int] | None = None) -> G5kConf:
        """The G5k configuration of the pnodes' job: a deploy job, a group per vnode
        group, the subnet."""
        counts = list(counts) if counts is not None else self.node_counts(conf)
        machines = [{"roles": [f"distem-group-{index}"], "nodes": nodes,
                     "cluster": machine.cluster, "site": machine.site}
                    for index, (machine, nodes) in enumerate(zip(conf.machines, counts,
                                                                 strict=True))]
        networks = [{"id": f"subnet-{conf.site}", "type": "slash_22",
                     "roles": list(conf.networks), "site": conf.site}]
        section: dict[str, Any] = {
            "job_type": ["deploy", ORIGIN], "env_name": conf.env_name,
            "walltime": conf.walltime, "queue": conf.queue, "gateway": conf.gateway,
            "force_deploy": conf.force_deploy, "dhcp": False,
            "job_name": conf.job_name or self.context.stack_name,
            "resources": {"machines": machines, "networks": networks}}
        for field in ("reservation", "project", "key", "jump"):
            if getattr(conf, field) is not None:
                section[field] = getattr(conf, field)
        return G5kConf.from_dictionary(section)

    def key_path(self, name: str) -> str:
        return str(self.context.state_dir / "distem" / f"{name}-key")

    # -- desired resources ---------------------------------------------------------------
    def expand(self, name: str, conf: DistemConf,  # type: ignore[override]
               records: Mapping[str, Record] | None = None) -> list[Resource]:
        records = records or {}
        counts = self.node_counts(conf)
        resources = super().expand(name, self.g5k_conf(conf, counts), records)
        site = conf.site
        job = f"{name}.job[{site}]"
        deployment = next(r.address for r in resources if r.kind == "g5k_deployment")
        jump = _jump(conf, self._username())  # type: ignore[arg-type]
        self.keyfile = self.key_path(name)
        key = f"{name}.key"
        bootstrap, vnetwork = f"{name}.bootstrap", f"{name}.vnetwork"
        common = {"jump": jump, "job_uid": Ref(job, "uid"), "key_path": Ref(key, "path")}
        resources += [
            Resource(key, "distem_key", {"path": self.keyfile,
                                         "comment": f"bedform-distem@{self.context.stack_name}"}),
            Resource(bootstrap, "distem_bootstrap", {
                **common, "assigned": Ref(job, "groups"),
                "deployed": Ref(deployment, "deployed"), "public_key": Ref(key, "public")}),
            Resource(vnetwork, "distem_vnetwork", {
                **common, "name": conf.vnetwork, "subnets": Ref(job, f"subnets[subnet-{site}]"),
                "coordinator": Ref(bootstrap, "coordinator")})]
        wanted = [f"{name}.vnode[{i}/{k}]" for i, m in enumerate(conf.machines)
                  for k in range(m.number)]
        recorded = {a: r.inputs["slot"] for a, r in records.items()
                    if r.kind == "distem_vnode" and "slot" in r.inputs}
        slots = placement.allocate_slots(wanted, recorded)
        for index, machine in enumerate(conf.machines):
            for k in range(machine.number):
                address = f"{name}.vnode[{index}/{k}]"
                resources.append(Resource(address, "distem_vnode", {
                    **common, "name": f"vnode-{index}-{k}", "group": index,
                    "position": k % counts[index], "slot": slots[address],
                    "assigned": Ref(job, "groups"),
                    "subnets": Ref(job, f"subnets[subnet-{site}]"),
                    "vnetwork": Ref(vnetwork, "name"), "image": conf.image,
                    "coordinator": Ref(bootstrap, "coordinator"),
                    "public_key": Ref(key, "public")}))
        return resources

    # -- SSH on the pnodes and the coordinator's API -------------------------------------
    def run_on(self, scripts: Mapping[str, str], jump: Mapping[str, Any], timeout: float
               ) -> None:
        """Run each pnode's script, one SSH session per node."""
        run = executor(self.context.options, self.api)
        if run is None:
            raise EnosUnreachableHostsError(
                [], "the client configuration says the nodes are not reachable "
                    "(`nodes_reachable: false`): Distem needs SSH to the pnodes")
        run([(node_host(node, jump), script) for node, script in scripts.items()],
            timeout=timeout)

    def snapshot(self, records: Sequence[Record]) -> Listing:
        """The coordinators' listings, read on first use by a kind's refresh."""
        for record in records:
            if record.kind == "distem_key" and record.attributes.get("path"):
                self.keyfile = str(record.attributes["path"])
        return Listing(self)

    # -- reservations --------------------------------------------------------------------
    def test_slot(self, conf: DistemConf,  # type: ignore[override]
                  start: float, end: float) -> SlotCheck:
        return super().test_slot(self.g5k_conf(conf), start, end)

    def walltime(self, conf: DistemConf) -> int:  # type: ignore[override]
        return super().walltime(self.g5k_conf(conf))

    def with_reservation(self, conf: DistemConf,  # type: ignore[override]
                         start: float, offset: int = 0) -> DistemConf:
        g5k = super().with_reservation(self.g5k_conf(conf), start, offset)
        new = DistemConf.from_dictionary(conf.to_dict())
        new.reservation, new.walltime = g5k.reservation, g5k.walltime
        return new

    # -- inventory -----------------------------------------------------------------------
    def inventory(self, name: str, conf: DistemConf,  # type: ignore[override]
                  records: Mapping[str, Record]) -> tuple[Roles, Networks]:
        return inventory.inventory(name, conf, records)
