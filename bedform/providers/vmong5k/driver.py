"""The VMonG5k driver: VMs on deployed Grid'5000 nodes of one job per site.

Resources of a provider instance `vms` (kinds in kinds.py; the job and deployment are
the G5k provider's own handlers, fed by the G5k expansion of an equivalent G5k
configuration: one group per VM group, a deploy job with one `slash_22`/`slash_16`):

- `vms.job[<site>]`, `vms.deployment[<site>/prod-<site>]` (G5k kinds);
- `vms.hypervisor[<group>/<position>]`: one per node of each group;
- `vms.domains[<group>/<position>]`: the batch of each node;
- `vms.vm[<group>/<k>]`: one per VM, on position `k mod nodes` of its group, at the
  address slot recorded in the state (placement.py), after its node's batch.

Refresh costs what the G5k job costs plus one `virsh list --all` per node holding VMs.
Reservation methods (walltime, with_reservation, recorded_reservation, test_slot) are
the G5k driver's, applied to the equivalent G5k configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bedform.errors import EnosUnreachableHostsError, ProviderError
from bedform.objects import Networks, Roles
from bedform.providers.base import ApplyContext, Capabilities, Ref, Resource, SlotCheck
from bedform.providers.g5k.checks import public_keys
from bedform.providers.g5k.config import G5kConf
from bedform.providers.g5k.deployments import DeploymentKind
from bedform.providers.g5k.driver import G5kDriver
from bedform.providers.g5k.jobs import JobKind
from bedform.providers.g5k.remote_setup import _jump, executor
from bedform.providers.kinds import KindHandler
from bedform.providers.vmong5k import config as vmconf
from bedform.providers.vmong5k import domain, inventory, placement
from bedform.providers.vmong5k.config import VMonG5kConf
from bedform.providers.vmong5k.kinds import DomainsKind, HypervisorKind, VmKind, node_host
from bedform.state.model import Record

ORIGIN = "origin=bedform_vmong5k"
LIST_TIMEOUT = 60


class VMonG5kDriver(G5kDriver):
    """Driver of `type: vmong5k` sections (a G5k driver with three more kinds)."""

    type_name = "vmong5k"
    handlers: ClassVar[tuple[type[KindHandler[Any]], ...]] = (
        JobKind, DeploymentKind, HypervisorKind, VmKind, DomainsKind)
    capabilities = Capabilities(advance_reservation=True, test_slot=True,
                                walltime_update=True, max_concurrent_calls=32)

    def __init__(self, context: Any) -> None:
        super().__init__(context)

    # -- configuration -------------------------------------------------------------------
    @classmethod
    def schema(cls) -> dict[str, Any]:
        return vmconf.SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> VMonG5kConf:  # type: ignore[override]
        return vmconf.load(section)

    def node_counts(self, conf: VMonG5kConf) -> list[int]:
        """Nodes per VM group: `nodes`, the undercloud, else EnOSlib's computation from
        the cluster's last node (one API call per cluster)."""
        counts = []
        for machine in conf.machines:
            if machine.nodes is not None:
                counts.append(machine.nodes)
            elif machine.undercloud:
                counts.append(len(machine.undercloud))
            else:
                counts.append(placement.node_count(
                    machine.number, machine.core, machine.mem,
                    self.last_node(machine.site, machine.cluster), machine.vcore_type))
        return counts

    def g5k_conf(self, conf: VMonG5kConf, counts: Sequence[int] | None = None) -> G5kConf:
        """The G5k configuration of the VMs' job: a deploy job, a group per VM group,
        the subnet on each site."""
        counts = list(counts) if counts is not None else self.node_counts(conf)
        machines: list[dict[str, Any]] = []
        for index, (machine, nodes) in enumerate(zip(conf.machines, counts, strict=True)):
            group: dict[str, Any] = {"roles": [f"vmong5k-group-{index}"], "nodes": nodes}
            if machine.undercloud:
                group["servers"] = list(machine.undercloud)
            else:
                group.update(cluster=machine.cluster, site=machine.site)
            machines.append(group)
        networks = [{"id": f"subnet-{site}", "type": conf.subnet_type,
                     "roles": list(conf.networks), "site": site} for site in conf.sites]
        section: dict[str, Any] = {
            "job_type": ["deploy", ORIGIN, *conf.job_type], "env_name": conf.env_name,
            "walltime": conf.walltime, "queue": conf.queue, "gateway": conf.gateway,
            "dhcp": False, "resources": {"machines": machines, "networks": networks}}
        for field in ("job_name", "reservation", "project", "key", "jump"):
            if getattr(conf, field) is not None:
                section[field] = getattr(conf, field)
        return G5kConf.from_dictionary(section)

    # -- desired resources ---------------------------------------------------------------
    def expand(self, name: str, conf: VMonG5kConf,  # type: ignore[override]
               records: Mapping[str, Record] | None = None) -> list[Resource]:
        records = records or {}
        placement.check_capacity(sum(m.number for m in conf.machines), conf.subnet_type,
                                 conf.skip)
        counts = self.node_counts(conf)
        resources = super().expand(name, self.g5k_conf(conf, counts), records)
        deployments = {r.inputs["site"]: r.address for r in resources
                       if r.kind == "g5k_deployment"}
        jump = _jump(conf, self._username())  # type: ignore[arg-type]
        key = public_keys(conf.key)
        wanted = [f"{name}.vm[{i}/{k}]" for i, m in enumerate(conf.machines)
                  for k in range(m.number)]
        recorded = {a: r.inputs["slot"] for a, r in records.items()
                    if r.kind == "vmong5k_vm" and "slot" in r.inputs}
        slots = placement.allocate_slots(wanted, recorded)
        common: dict[str, Any] = {"working_dir": conf.working_dir, "jump": jump}
        if conf.bridge != domain.BRIDGE:     # inputs of existing stacks stay the same
            common["bridge"] = conf.bridge
        for index, (machine, nodes) in enumerate(zip(conf.machines, counts, strict=True)):
            site = machine.site
            job = f"{name}.job[{site}]"
            group = sum(1 for m in conf.machines[:index] if m.site == site)
            hypervisors = [f"{name}.hypervisor[{index}/{j}]" for j in range(nodes)]
            for j, address in enumerate(hypervisors):
                resources.append(Resource(address, "vmong5k_hypervisor", {
                    **common, "group": group, "position": j, "job_uid": Ref(job, "uid"),
                    "assigned": Ref(job, "groups"), "image": conf.image,
                    "deployed": Ref(deployments[site], "deployed")}))
            vm_common = {**common, "subnets": Ref(job, f"subnets[subnet-{site}]"),
                         "job_uid": Ref(job, "uid"), "skip": conf.skip,
                         "domain_type": conf.domain_type, "strategy": conf.strategy,
                         "key": key}
            if conf.direct_boot:
                vm_common["direct_boot"] = dict(conf.direct_boot)
            per_node: list[list[dict[str, Any]]] = [[] for _ in range(nodes)]
            vm_resources = []
            for k, j in enumerate(placement.round_robin(machine.number, nodes)):
                address = f"{name}.vm[{index}/{k}]"
                vm: dict[str, Any] = {"slot": slots[address],
                                      "flavour": {"core": machine.core, "mem": machine.mem}}
                if machine.extra_devices:
                    vm["extra_devices"] = machine.extra_devices
                if machine.flavour_desc and machine.flavour_desc.get("disk"):
                    vm["disk_gb"] = machine.flavour_desc["disk"]
                per_node[j].append(vm)
                vm_resources.append(Resource(address, "vmong5k_vm", {
                    **vm_common, **vm, "node": Ref(hypervisors[j], "node"),
                    "image": f"{conf.working_dir}/{domain.BASE_IMAGE}"},
                    depends_on=(f"{name}.domains[{index}/{j}]",)))
            for j, vms in enumerate(per_node):
                resources.append(Resource(f"{name}.domains[{index}/{j}]", "vmong5k_domains", {
                    **vm_common, "node": Ref(hypervisors[j], "node"), "vms": vms}))
            resources += vm_resources
        return resources

    # -- SSH on the nodes ----------------------------------------------------------------
    def run_on(self, scripts: Mapping[str, str], jump: Mapping[str, Any], timeout: float,
               ctx: ApplyContext | None = None, unreachable_ok: bool = False) -> bool:
        """Run each node's script, one SSH session per node; False when the client
        configuration says the nodes are not reachable (nothing run)."""
        run = executor(self.context.options, self.api)
        if run is None:
            if ctx is not None:
                ctx.progress(f"nodes not reachable (client configuration): {len(scripts)} "
                             "node script(s) not run")
            return False
        pairs = [(node_host(node, jump), domain.packed(script))
                 for node, script in scripts.items()]
        try:
            run(pairs, timeout=timeout)
        except EnosUnreachableHostsError:
            if not unreachable_ok:
                raise
        return True

    def snapshot(self, records: Sequence[Record]) -> dict[str, dict[str, str] | None]:
        """One `virsh list --all` per node holding VMs: {node: {domain: state}}, None for
        a node that did not answer."""
        nodes: dict[str, Mapping[str, Any]] = {}
        for record in records:
            if record.kind == "vmong5k_domains" and record.attributes.get("node"):
                nodes[record.attributes["node"]] = record.inputs.get("jump") or {}
        run = executor(self.context.options, self.api)
        if not nodes or run is None:
            return {}
        results = run([(node_host(n, jump), domain.LIST_COMMAND)
                       for n, jump in sorted(nodes.items())],
                      timeout=LIST_TIMEOUT, check=False)
        listings: dict[str, dict[str, str] | None] = {}
        for node in nodes:
            result = results.get(node)
            if result is None or result.unreachable:
                listings[node] = None
            elif result.rc != 0:
                raise ProviderError(f"`{domain.LIST_COMMAND}` failed on {node}: "
                                    f"{result.stderr.strip()[-300:]}")
            else:
                listings[node] = domain.parse_list(result.stdout)
        return listings

    # -- reservations --------------------------------------------------------------------
    def test_slot(self, conf: VMonG5kConf,  # type: ignore[override]
                  start: float, end: float) -> SlotCheck:
        return super().test_slot(self.g5k_conf(conf), start, end)

    # -- inventory -----------------------------------------------------------------------
    def inventory(self, name: str, conf: VMonG5kConf,  # type: ignore[override]
                  records: Mapping[str, Record]) -> tuple[Roles, Networks]:
        return inventory.inventory(name, conf, records, self._username())
