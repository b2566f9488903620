"""Names and addresses of a Grid'5000 box, pure functions of the reference data and the
box id: namespaces, interfaces, the prod network of each site and the kavlan addresses.

Address rule (as the real testbed names them, `<node>-kavlan-<id>.<site>.grid5000.fr`):
a node keeps, in kavlan `id`, the offset its production address has in the site's prod
network, placed in the kavlan's network (reference `kavlans[id].network`); its k-th NIC
adds k times the size of the prod network. A NIC whose rule address falls outside the
kavlan or is taken (a /20 kavlan-local holds one prod network, not three) gets the
highest free address instead, NICs taken in (NIC index, node) order. The prod network
of a site is the smallest network that holds every node's production address; its last
host address is the gateway, held by the box namespace (the access frontend).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..reference import ReferenceData, fqdn

PREFIX = "g5kbox"
IFNAME_MAX = 15


@dataclass(frozen=True)
class Nic:
    """One Ethernet NIC of a node: predictable name, legacy device, MAC, KaVLAN name."""

    name: str
    device: str
    mac: str
    primary: bool
    interface: str | None  # the KaVLAN interface name the API uses, None if not kavlan
    veth: str  # the peer's name in the box namespace


@dataclass(frozen=True)
class NodePlan:
    """A node of the reference as a box host."""

    fqdn: str
    uid: str
    site: str
    prod: ipaddress.IPv4Interface
    nics: tuple[Nic, ...]

    @property
    def primary(self) -> Nic:
        return next(nic for nic in self.nics if nic.primary)


@dataclass(frozen=True)
class VlanPlan:
    """A kavlan: its network and the gateway address the box holds on it. A global kavlan
    (`spans`) is one bridge that the nodes of every site can join."""

    vid: str
    site: str
    network: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    bridge: str
    spans: bool = False


@dataclass
class BoxPlan:
    """Everything named in one box."""

    box_id: str
    nodes: dict[str, NodePlan] = field(default_factory=dict)
    prod: dict[str, ipaddress.IPv4Interface] = field(default_factory=dict)  # site -> gateway
    prod_bridges: dict[str, str] = field(default_factory=dict)
    vlans: dict[tuple[str, str], VlanPlan] = field(default_factory=dict)  # (site, vid)
    _addresses: dict[tuple[str, str], dict[tuple[str, str], ipaddress.IPv4Interface]] = \
        field(default_factory=dict, repr=False)

    @property
    def ns_prefix(self) -> str:
        return f"{PREFIX}-{self.box_id}-"

    @property
    def box_netns(self) -> str:
        """The box namespace: bridges, DHCP servers and the access frontend's sshd."""
        return f"{self.ns_prefix}access"

    def node_netns(self, node: str) -> str:
        return f"{self.ns_prefix}{node.split('.')[0]}-{node.split('.')[1]}"

    @property
    def root_link(self) -> str:
        """The only interface of the box in this machine's root namespace."""
        return f"gb{self.box_id}"

    def vlan(self, site: str, vid: str) -> VlanPlan | None:
        return self.vlans.get((site, vid))

    def kavlan_address(self, node: NodePlan, nic: Nic, vid: str
                       ) -> ipaddress.IPv4Interface | None:
        """The address the vlan's DHCP server gives `nic` of `node`."""
        return self.vlan_addresses(node.site, vid).get((node.fqdn, nic.name))

    def vlan_addresses(self, site: str, vid: str
                       ) -> dict[tuple[str, str], ipaddress.IPv4Interface]:
        """(node FQDN, NIC name) -> address in kavlan `vid` of `site`, by the module's rule."""
        vlan = self.vlan(site, vid)
        key = ("*" if vlan is not None and vlan.spans else site, vid)
        if key in self._addresses:
            return self._addresses[key]
        out: dict[tuple[str, str], ipaddress.IPv4Interface] = {}
        if vlan is not None:
            size = vlan.network.num_addresses
            base = vlan.network.network_address
            used = {0, size - 1, int(vlan.gateway) - int(base)}
            nodes = [n for n in self.nodes.values() if vlan.spans or n.site == site]
            rank = max((len(n.nics) for n in nodes), default=0)
            pending = []
            offset: int | None
            for index in range(rank):
                for node in nodes:
                    if index >= len(node.nics):
                        continue
                    prod = self.prod[node.site].network
                    offset = (int(node.prod.ip) - int(prod.network_address)
                              + index * prod.num_addresses)
                    if offset < size and offset not in used:
                        used.add(offset)
                        out[(node.fqdn, node.nics[index].name)] = ipaddress.IPv4Interface(
                            f"{base + offset}/{vlan.network.prefixlen}")
                    else:
                        pending.append((node.fqdn, node.nics[index].name))
            free = (o for o in range(size - 2, 0, -1) if o not in used)
            for name in pending:
                offset = next(free, None)
                if offset is None:
                    break
                out[name] = ipaddress.IPv4Interface(f"{base + offset}/{vlan.network.prefixlen}")
        self._addresses[key] = out
        return out

    def hosts_file(self, access: str) -> str:
        """/etc/hosts of every box host: each node's prod name and kavlan names."""
        lines = ["127.0.0.1 localhost", f"{access} access.grid5000.fr access"]
        for site, gateway in sorted(self.prod.items()):
            lines.append(f"{gateway.ip} gw.{site}.grid5000.fr")
            for (vsite, vid), vlan in sorted(self.vlans.items()):
                if vsite == site:
                    lines.append(f"{vlan.gateway} kavlan-{vid}.{site}.grid5000.fr")
        for node in self.nodes.values():
            short = node.uid
            lines.append(f"{node.prod.ip} {node.fqdn} {short}")
            for (vsite, vid) in self.vlans:
                if vsite != node.site:
                    continue
                for nic in node.nics:
                    address = self.kavlan_address(node, nic, vid)
                    if address is None:
                        continue
                    name = short if nic.primary else f"{short}-{nic.device}"
                    lines.append(f"{address.ip} {name}-kavlan-{vid}.{node.site}.grid5000.fr")
        return "\n".join(lines) + "\n"


def build(reference: ReferenceData, box_id: str, sites: Iterable[str] | None = None) -> BoxPlan:
    """The plan of a box over `sites` (default: every site with nodes)."""
    plan = BoxPlan(box_id)
    wanted = set(sites) if sites is not None else None
    counter = 0
    for site_uid, site in reference.sites.items():
        if wanted is not None and site_uid not in wanted:
            continue
        nodes = []
        for cluster in site.get("clusters", {}).values():
            for node in cluster.get("nodes", {}).values():
                built = _node(site_uid, node, counter)
                if built is not None:
                    nodes.append(built)
                    counter += 1
        if not nodes:
            continue
        prod = _smallest_network([n.prod.ip for n in nodes])
        gateway = ipaddress.IPv4Interface(f"{prod.broadcast_address - 1}/{prod.prefixlen}")
        index = len(plan.prod)
        plan.prod[site_uid] = gateway
        plan.prod_bridges[site_uid] = f"prod{index}"
        for node in nodes:
            plan.nodes[node.fqdn] = NodePlan(node.fqdn, node.uid, node.site,
                                             ipaddress.IPv4Interface(f"{node.prod.ip}/"
                                                                     f"{prod.prefixlen}"),
                                             node.nics)
        for vid, spec in sorted((site.get("kavlans") or {}).items()):
            if "network" not in spec or "gateway" not in spec:
                continue
            plan.vlans[(site_uid, vid)] = VlanPlan(vid, site_uid,
                                                   ipaddress.IPv4Network(spec["network"]),
                                                   ipaddress.IPv4Address(spec["gateway"]),
                                                   f"kv{vid}s{index}")
    for vid, owner in reference.global_vlan_owner.items():
        own = plan.vlans.get((owner, vid))
        if own is None:
            continue
        shared = VlanPlan(vid, owner, own.network, own.gateway, f"kv{vid}g", spans=True)
        for site_uid in plan.prod:
            plan.vlans[(site_uid, vid)] = shared
    return plan


def _node(site: str, node: dict[str, Any], counter: int) -> NodePlan | None:
    adapters = sorted(
        (a for a in node.get("network_adapters", [])
         if a.get("mountable") and a.get("interface") == "Ethernet"
         and not a.get("management") and a.get("mac")),
        key=lambda a: a["device"])
    primary = next((a for a in adapters if a.get("mounted") and a.get("ip")), None)
    if primary is None:
        return None
    nics = tuple(
        Nic(name=a.get("name") or a["device"], device=a["device"], mac=a["mac"].lower(),
            primary=a is primary,
            interface=a.get("network_address") if a.get("kavlan") else None,
            veth=f"n{counter:05d}{i}")
        for i, a in enumerate(adapters))
    prod = ipaddress.IPv4Interface(f"{primary['ip']}/32")
    return NodePlan(fqdn(node["uid"], site), node["uid"], site, prod, nics)


def _smallest_network(addresses: list[ipaddress.IPv4Address]) -> ipaddress.IPv4Network:
    low, high = min(addresses), max(addresses)
    prefix = 24
    while prefix > 8:
        network = ipaddress.IPv4Network(f"{low}/{prefix}", strict=False)
        if high in network and network.broadcast_address - 1 != high:
            return network
        prefix -= 1
    return ipaddress.IPv4Network(f"{low}/8", strict=False)
