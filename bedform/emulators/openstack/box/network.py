"""The box's networks, all inside the box namespace: the external network's bridge `ext`
(this machine joins it through one veth that holds the external subnet's gateway address,
as devstack's br-ex does), one bridge per tenant network in use, the servers' NICs as
veth pairs in their network's bridge, and the floating-IP NIC `fip0` of a server in `ext`.

Forwarding stays off in the box namespace and no router is emulated: a server reaches the
servers of its own networks, and this machine reaches a server through its floating IP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from bedform import machines
from bedform.machines import netlink

from ...g5k.box.network import access_link
from ..seed import EXTERNAL_CIDR
from .spec import Nic

EXTERNAL_BRIDGE = "ext"
UPLINK = "uplink"
FLOATING_NIC = "fip0"
#: where a box takes its external network when devstack's 172.24.4.0/24 is taken here
EXTERNAL_POOL = ipaddress.IPv4Network("172.24.0.0/16")


def external_cidr(box_id: str) -> str:
    """devstack's external subnet when no interface of this machine overlaps it, else a
    free /24 of 172.24.0.0/16 picked from the box id."""
    root, _, _ = netlink.observe(root=True)
    used = [ipaddress.ip_interface(a).network for a in root.all_addresses()]
    if not any(ipaddress.ip_network(EXTERNAL_CIDR).overlaps(net) for net in used):
        return EXTERNAL_CIDR
    return str(access_link(box_id, EXTERNAL_POOL, 24))


def create_external(box_netns: str, root_link: str, gateway: str) -> None:
    """The `ext` bridge and this machine's veth on it, holding `gateway` (a.b.c.d/len)."""
    machines.ip_batch([
        f"link add {root_link} type veth peer name {UPLINK} netns {box_netns}",
        f"addr add {gateway} dev {root_link}",
        f"link set {root_link} up",
    ], what="creating the box's external link")
    machines.ip_batch([f"link add {EXTERNAL_BRIDGE} type bridge",
                       f"link set {EXTERNAL_BRIDGE} up",
                       f"link set {UPLINK} master {EXTERNAL_BRIDGE}", f"link set {UPLINK} up"],
                      netns=box_netns, what="creating the external bridge")


def create_bridge(box_netns: str, bridge: str) -> None:
    """A tenant network's bridge (no address: the box is not on tenant networks)."""
    machines.ip_batch([f"link add {bridge} type bridge", f"link set {bridge} up"],
                      netns=box_netns, what=f"creating bridge {bridge}")


def delete_links(box_netns: str, links: Sequence[str]) -> None:
    """Remove interfaces of the box namespace (a bridge, a floating-IP veth)."""
    machines.ip_batch([f"link del {link}" for link in links], netns=box_netns,
                      what=f"removing {', '.join(links)}")


def create_nics(box_netns: str, netns: str, nics: Sequence[tuple[Nic, str, str]],
                what: str) -> None:
    """`eth<i>` in the host for each (NIC, its veth in the box, its network's bridge):
    the port's MAC and fixed address, a default route via the first subnet gateway."""
    box = []
    host = []
    for index, (nic, veth, bridge) in enumerate(nics):
        box += [f"link add {veth} type veth peer name eth{index} address {nic.mac} "
                f"netns {netns}", f"link set {veth} master {bridge}", f"link set {veth} up"]
        host += [f"addr add {nic.address} dev eth{index}", f"link set eth{index} up"]
    gateway = next((nic.gateway for nic, _, _ in nics if nic.gateway), None)
    if gateway:
        host.append(f"route add default via {gateway}")
    machines.ip_batch(box, netns=box_netns, what=f"creating the NICs of {what}")
    machines.ip_batch(host, netns=netns, what=f"addressing {what}")


def attach_floating(box_netns: str, netns: str, veth: str, address: str) -> None:
    """`fip0` in the host on the external bridge, holding the floating IP."""
    machines.ip_batch([f"link add {veth} type veth peer name {FLOATING_NIC} netns {netns}",
                       f"link set {veth} master {EXTERNAL_BRIDGE}", f"link set {veth} up"],
                      netns=box_netns, what=f"plugging floating IP {address}")
    machines.ip_batch([f"addr add {address} dev {FLOATING_NIC}",
                       f"link set {FLOATING_NIC} up"],
                      netns=netns, what=f"addressing floating IP {address}")
