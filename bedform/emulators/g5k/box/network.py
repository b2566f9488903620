"""The box's networks, all inside the box namespace: one prod bridge per site, one bridge
per kavlan in use (with its gateway address and a DHCP server), the node NICs as veth
pairs, and the single /30 link to this machine that reaches the access frontend.

Forwarding stays off in the box namespace: a node reaches the nodes of its own networks
only, and the access frontend reaches every node (it sits on every bridge).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
from pathlib import Path

from bedform import machines
from bedform.machines import netlink

from .plan import BoxPlan, NodePlan, VlanPlan

ACCESS_RANGE = ipaddress.IPv4Network("198.19.0.0/16")
DEFAULT = "DEFAULT"


def access_link(box_id: str, pool: ipaddress.IPv4Network = ACCESS_RANGE,
                prefixlen: int = 30) -> ipaddress.IPv4Network:
    """A /`prefixlen` of `pool` (default: a /30 of 198.19.0.0/16) that no interface of this
    machine uses, picked from the box id (the same box id gets the same link while it is
    free)."""
    root, _, _ = netlink.observe(root=True)
    assert root is not None
    used = [ipaddress.ip_interface(a).network for a in root.all_addresses()]
    size = 2 ** (32 - prefixlen)
    count = pool.num_addresses // size
    start = int.from_bytes(hashlib.blake2s(box_id.encode()).digest()[:4], "big") % count
    for step in range(count):
        candidate = ipaddress.IPv4Network(
            f"{pool.network_address + ((start + step) % count) * size}/{prefixlen}")
        if not any(candidate.overlaps(network) for network in used):
            return candidate
    raise machines.MachineError(f"no free /{prefixlen} left in {pool} for the box's link")


def create_box_network(plan: BoxPlan, link: ipaddress.IPv4Network) -> str:
    """The root-namespace veth to the access frontend and one bridge per site's prod
    network; returns the access frontend's address."""
    hosts = list(link.hosts())
    outside, inside = hosts[0], hosts[1]
    machines.ip_batch([
        f"link add {plan.root_link} type veth peer name access0 netns {plan.box_netns}",
        f"addr add {outside}/{link.prefixlen} dev {plan.root_link}",
        f"link set {plan.root_link} up",
    ], what="creating the box's access link")
    commands = [f"addr add {inside}/{link.prefixlen} dev access0", "link set access0 up"]
    for site, gateway in plan.prod.items():
        bridge = plan.prod_bridges[site]
        commands += [f"link add {bridge} type bridge", f"addr add {gateway} dev {bridge}",
                     f"link set {bridge} up"]
    machines.ip_batch(commands, netns=plan.box_netns, what="creating the prod bridges")
    return str(inside)


def create_nics(plan: BoxPlan, node: NodePlan, netns: str) -> None:
    """One veth per NIC of the node, the primary one in the prod bridge and addressed.

    A namespace just deleted takes its veths away asynchronously: the box ends of an
    earlier incarnation of the node are deleted first, so the names are free."""
    _, nets, _ = netlink.observe([plan.box_netns])
    present = nets.get(plan.box_netns)
    for nic in node.nics:
        if present is not None and present.by_name(nic.veth) is not None:
            # the namespace's deletion may take it between the listing and this call
            with contextlib.suppress(machines.MachineError):
                machines.ip_batch([f"link del {nic.veth}"], netns=plan.box_netns,
                                  what=f"removing {nic.veth} of an earlier {node.fqdn}")
    box: list[str] = []
    for nic in node.nics:
        box += [f"link add {nic.veth} type veth peer name {nic.name} address {nic.mac} "
                f"netns {netns}", f"link set {nic.veth} up"]
    box.append(f"link set {node.primary.veth} master {plan.prod_bridges[node.site]}")
    machines.ip_batch(box, netns=plan.box_netns, what=f"creating the NICs of {node.fqdn}")
    machines.ip_batch([
        f"link set {node.primary.name} up",
        f"addr add {node.prod} dev {node.primary.name}",
        f"route add default via {plan.prod[node.site].ip}",
    ], netns=netns, what=f"addressing {node.fqdn}")


def ensure_vlan(plan: BoxPlan, vlan: VlanPlan, state_dir: Path, present: set[str]) -> None:
    """The vlan's bridge, gateway address and DHCP server (once per box)."""
    if vlan.bridge in present:
        return
    machines.ip_batch([f"link add {vlan.bridge} type bridge",
                       f"addr add {vlan.gateway}/{vlan.network.prefixlen} dev {vlan.bridge}",
                       f"link set {vlan.bridge} up"],
                      netns=plan.box_netns, what=f"creating kavlan {vlan.vid}")
    present.add(vlan.bridge)
    start_dhcp(plan, vlan, state_dir)


def start_dhcp(plan: BoxPlan, vlan: VlanPlan, state_dir: Path) -> None:
    """dnsmasq on the vlan's bridge, handing each NIC of the site its kavlan address."""
    dnsmasq = machines.which("dnsmasq")
    if dnsmasq is None:
        raise machines.MachineError("dnsmasq not found",
                                    hint="Install it: apt-get install dnsmasq-base")
    base = state_dir / f"dhcp-{vlan.bridge}"
    entries = []
    for node in plan.nodes.values():
        if node.site != vlan.site and not vlan.spans:
            continue
        for nic in node.nics:
            address = plan.kavlan_address(node, nic, vlan.vid)
            if address is not None:
                entries.append(f"{nic.mac},{address.ip}")
    machines.write_file(base.with_suffix(".hosts"), "\n".join(entries) + "\n", 0o644)
    machines.run([
        machines.which("ip") or "ip", "netns", "exec", plan.box_netns, dnsmasq,
        "--conf-file=/dev/null", "--port=0", "--user=root", "--group=root",
        f"--interface={vlan.bridge}", "--bind-interfaces", "--except-interface=lo",
        f"--dhcp-range={vlan.network.network_address},static,{vlan.network.netmask}",
        f"--dhcp-hostsfile={base.with_suffix('.hosts')}",
        f"--dhcp-leasefile={base.with_suffix('.leases')}",
        f"--pid-file={base.with_suffix('.pid')}",
        f"--log-facility={base.with_suffix('.log')}",
        "--dhcp-option=3", "--dhcp-option=6", "--dhcp-authoritative",
    ], what=f"starting the DHCP server of kavlan {vlan.vid}")


def attach(plan: BoxPlan, veth: str, bridge: str | None) -> None:
    """Put a NIC's veth in `bridge` (None: no network, as a NIC outside every vlan)."""
    command = f"link set {veth} master {bridge}" if bridge else f"link set {veth} nomaster"
    machines.ip_batch([command], netns=plan.box_netns, what=f"moving {veth}")


def readdress_primary(plan: BoxPlan, node: NodePlan, netns: str, vid: str) -> None:
    """The primary NIC booted in vlan `vid` (a deployment with a vlan): its kavlan address
    and the vlan gateway as default route; back in prod, its production address."""
    nic = node.primary
    if vid == DEFAULT:
        address, gateway = node.prod, plan.prod[node.site].ip
    else:
        vlan = plan.vlan(node.site, vid)
        kavlan = plan.kavlan_address(node, nic, vid)
        if vlan is None or kavlan is None:
            return
        address, gateway = kavlan, vlan.gateway
    machines.ip_batch([f"addr flush dev {nic.name}", f"addr add {address} dev {nic.name}",
                       f"route replace default via {gateway}"],
                      netns=netns, what=f"addressing {node.fqdn} in vlan {vid}")


def route_subnets(netns: str, nic: str, *, add: set[str], remove: set[str]) -> None:
    """On-link routes for g5k-subnets on a node's NIC."""
    machines.ip_batch([*(f"route del {subnet} dev {nic}" for subnet in sorted(remove)),
                       *(f"route replace {subnet} dev {nic}" for subnet in sorted(add))],
                      netns=netns, what=f"routing subnets on {nic}")


def route_box_subnets(plan: BoxPlan, wanted: dict[str, str], current: dict[str, str]) -> None:
    """On-link routes for g5k-subnets on the prod bridges of the box namespace."""
    commands = [f"route del {subnet}" for subnet in sorted(current) if subnet not in wanted]
    commands += [f"route replace {subnet} dev {bridge}" for subnet, bridge in
                 sorted(wanted.items()) if current.get(subnet) != bridge]
    machines.ip_batch(commands, netns=plan.box_netns, what="routing the jobs' subnets")
