"""Node set-up over SSH after the reservation: dhcp on the secondary NICs
(resource `g5k.dhcp[<site>]`, kind `g5k_dhcp`, deploy jobs, unless `dhcp: false`), and
for jobs without `deploy`, root access (`g5k.root_access[<site>]`, kind
`g5k_root_access`): on each node FQDN, as the API user, `sudo-g5k` appends the user's
NFS-home public keys to root's authorized_keys, each key once (EnOSlib's
`grant_root_access`, made idempotent), so that the inventory's `root` logins work.

The resource depends on the site's deployments and kavlan ports. Its create reads the
reference description of the nodes (one `GET /sites/{site}/clusters/{c}/nodes` per
cluster), builds a `G5kHost` per deployed node and runs its `dhcp_networks_command`
(EnOSlib's: `ip link set <nic> up; dhclient <nics>`, predictable NIC names) on the nodes
in parallel, as root through the same jump hosts as the inventory.

The SSH executor is `bedform.remote.run_many` unless the driver context's options hold
`g5k_remote`: a callable `(pairs: list[(Host, command)], *, timeout) -> {alias: Result}`
(tests record the commands sent to emulated nodes with it). The commands run whenever the
API answers, through the configured gateway (the Grid'5000 box publishes its access
frontend as `gateway` in the client configuration it writes); only a client configuration
that says `nodes_reachable: false` (the API-only emulator, whose nodes do not exist) has
them computed and recorded but not run.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bedform.objects import Host
from bedform.providers.base import ApplyContext, KindSpec, Ref, Resource
from bedform.providers.g5k.client import Api
from bedform.providers.g5k.config import KAVLAN_TYPES, G5kConf
from bedform.providers.g5k.host import G5kHost
from bedform.providers.kinds import KindHandler
from bedform.state.model import Record

if TYPE_CHECKING:
    from bedform.providers.g5k.driver import G5kDriver  # noqa: F401 - in a string

DHCP_TIMEOUT = 300

Executor = Callable[..., Mapping[str, Any]]


def executor(options: Mapping[str, Any], api: Api) -> Executor | None:
    """The SSH executor: `options["g5k_remote"]`, else `bedform.remote.run_many`; None
    (record, do not run) when the client configuration says the nodes are not
    reachable."""
    custom = options.get("g5k_remote")
    if custom is not None:
        return custom
    if not api.nodes_reachable:
        return None
    from bedform import remote

    return remote.run_many


def dhcp_resource(name: str, site: str, job: str, groups: Sequence[Mapping[str, Any]],
                  conf: G5kConf, username: str) -> list[Resource]:
    """`<name>.dhcp[<site>]` when some node of the site has a secondary kavlan network
    (deploy jobs only: nodes of other jobs are not reachable as root)."""
    kavlan = {n.id for n in conf.networks if n.site == site and n.type in KAVLAN_TYPES}
    ports = {s: Ref(f"{name}.vlan_port[{s}]", "interfaces")
             for g in groups for s in g["secondary"] if s in kavlan}
    if not ports:
        return []
    primaries = list(dict.fromkeys(g["primary"] for g in groups))
    inputs: dict[str, Any] = {
        "site": site,
        "groups": [{"primary": g["primary"], "secondary": list(g["secondary"])}
                   for g in groups],
        "assigned": Ref(job, "groups"),
        "deployed": {p: Ref(f"{name}.deployment[{site}/{p}]", "deployed")
                     for p in primaries},
        "vlans": {p: Ref(job, f"vlan[{p}]") for p in primaries if p in kavlan},
        "ports": ports,
        "jump": _jump(conf, username),
    }
    return [Resource(f"{name}.dhcp[{site}]", "g5k_dhcp", inputs)]


def _jump(conf: G5kConf, username: str) -> dict[str, Any]:
    jump = conf.jump if conf.jump is not None else \
        not socket.getfqdn().endswith("grid5000.fr")
    return {"gateway": conf.gateway, "gateway_user": username} if jump else {}


def root_access_resource(name: str, site: str, job: str, conf: G5kConf,
                         username: str) -> list[Resource]:
    return [Resource(f"{name}.root_access[{site}]", "g5k_root_access",
                     {"site": site, "nodes": Ref(job, "assigned_nodes"), "user": username,
                      "jump": _jump(conf, username)})]


def run_root_access(api: Api, inputs: Mapping[str, Any], options: Mapping[str, Any],
                    progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    hosts = [Host(node, alias=node, user=inputs["user"], extra=dict(inputs["jump"]))
             for node in sorted(inputs.get("nodes") or [])]
    run = executor(options, api)
    if hosts and run is None:
        progress(f"nodes not reachable (client configuration): root access not granted on "
                 f"{len(hosts)} node(s)")
    elif hosts and run is not None:
        progress(f"granting root access on {len(hosts)} node(s)")
        run([(h, G5kHost.grant_root_access_command()) for h in hosts],
            timeout=DHCP_TIMEOUT)
    return {"hosts": [h.alias for h in hosts], "executed": run is not None}


def dhcp_hosts(api: Api, inputs: Mapping[str, Any]) -> list[G5kHost]:
    """The deployed nodes of the site that have a NIC in one of the kavlan ports."""
    site = inputs["site"]
    ports = inputs.get("ports") or {}
    deployed = inputs.get("deployed") or {}
    vlans = inputs.get("vlans") or {}
    jump = inputs.get("jump") or {}
    wanted: list[tuple[str, dict[str, Any]]] = []
    for group, nodes in zip(inputs["groups"], inputs.get("assigned") or [], strict=False):
        if not any(net in ports for net in group["secondary"]):
            continue
        primary = group["primary"]
        allowed = deployed.get(primary)
        for node in nodes:
            if allowed is None or node in allowed:
                wanted.append((node, group))
    descriptions: dict[str, dict[str, Any]] = {}
    for cluster in sorted({node.split("-", 1)[0] for node, _ in wanted}):
        for item in api.get(f"/sites/{site}/clusters/{cluster}/nodes")["items"]:
            descriptions[f"{item['uid']}.{site}.grid5000.fr"] = item
    hosts = []
    for node, group in wanted:
        vlan = vlans.get(group["primary"])
        extra = dict(jump)
        if vlan and str(vlan).isdigit() and 1 <= int(vlan) <= 3:   # kavlan-local
            extra.update(internal_gateway=f"kavlan-{vlan}.{site}.grid5000.fr",
                         internal_gateway_user="root")
        hosts.append(G5kHost(node, primary_network=group["primary"], primary_vlan=vlan,
                             secondary_networks=group["secondary"],
                             apinode=descriptions.get(node, {}), extra=extra))
    return hosts


def run_dhcp(api: Api, inputs: Mapping[str, Any], options: Mapping[str, Any],
             progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    ports = set(inputs.get("ports") or {})
    pairs: list[tuple[Host, str]] = []
    for g5k_host in dhcp_hosts(api, inputs):
        command = g5k_host.dhcp_networks_command(ports)
        if command:
            pairs.append((g5k_host.to_enoslib(), command))
    run = executor(options, api)
    if pairs and run is None:
        progress(f"nodes not reachable (client configuration): dhcp not run on "
                 f"{len(pairs)} node(s)")
    elif pairs and run is not None:
        progress(f"dhcp on the secondary NICs of {len(pairs)} node(s)")
        run(pairs, timeout=DHCP_TIMEOUT)
    return {"hosts": sorted(h.alias for h, _ in pairs),
            "commands": {h.alias: c for h, c in pairs}, "executed": run is not None}


class DhcpKind(KindHandler["G5kDriver"]):
    """dhclient on the secondary NICs of a site's deployed nodes (module docstring)."""

    spec = KindSpec("g5k_dhcp", description="dhclient on the secondary NICs, over SSH")

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        return run_dhcp(self.driver.api, resource.inputs, self.driver.context.options,
                        ctx.progress)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Nothing to undo: the NICs' configuration goes with the job's nodes."""


class RootAccessKind(KindHandler["G5kDriver"]):
    """root logins on the nodes of a job without deploy (module docstring)."""

    spec = KindSpec("g5k_root_access",
                    description="root accepts the user's keys (no deploy)")

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        return run_root_access(self.driver.api, resource.inputs, self.driver.context.options,
                               ctx.progress)

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        """Nothing to undo: root's keys go with the job's nodes."""
