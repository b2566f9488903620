"""Where VMs go and which addresses they get, as pure functions of what the state holds.

- Addresses (EnOSlib's `mac_range`): the subnets sorted by network, each walked over its
  host addresses without the network, broadcast and first (`.1`) ones; slot `i` of
  that walk (after `skip`) is a VM's IP, its MAC is `00:16:3e` + the IP's last three
  bytes, its name `virtual-<b2>-<b3>-<b4>` (the G5k DHCP convention).
- Slots are stored in the state per VM: a new VM takes the lowest slot no other VM
  holds, so growing a group never moves a VM and shrinking frees the last ones.
- Nodes: VM `k` of a group runs on the group's `k mod n`-th sorted node.
- Node count (EnOSlib's `_find_nodes_number`): enough nodes for the group's cores and
  memory (2 % of a node's RAM reserved, between 256 MiB and 4 GiB), at most one per VM.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bedform.errors import ConfigError
from bedform.providers.g5k.objects import G5K_MAC_PREFIX

SLOTS_PER_SLASH_22 = 1021
"""Host addresses of a /22 minus network, broadcast and the skipped first one."""


def capacity(subnet_type: str, skip: int = 0) -> int:
    """How many VMs the reserved subnet can address."""
    blocks = 64 if subnet_type == "slash_16" else 1
    return blocks * SLOTS_PER_SLASH_22 - skip


def check_capacity(total: int, subnet_type: str, skip: int) -> None:
    """ConfigError naming the addresses needed when the subnet is too small."""
    available = capacity(subnet_type, skip)
    if total <= available:
        return
    hint = ("Use `subnet_type: slash_16` (65,344 addresses)." if subnet_type == "slash_22"
            else "Split the VMs over several providers.")
    raise ConfigError(f"{total} VMs need {total} addresses (plus skip={skip}), but one "
                      f"{subnet_type} gives {available}", ("subnet_type",), hint=hint)


def address(subnets: Sequence[str], slot: int, skip: int = 0) -> dict[str, str]:
    """IP, MAC and name of address slot `slot` of `subnets`."""
    ordered = sorted((ipaddress.ip_network(s) for s in subnets),
                     key=lambda n: int(n.network_address))
    position = slot + skip
    for net in ordered:
        usable = net.num_addresses - 3
        if position < usable:
            ip = net.network_address + 2 + position
            b = ip.packed
            return {"ip": str(ip), "mac": f"{G5K_MAC_PREFIX}:{b[1]:02x}:{b[2]:02x}:{b[3]:02x}",
                    "name": f"virtual-{b[1]}-{b[2]}-{b[3]}",
                    "prefix": str(net.prefixlen)}
        position -= usable
    raise ValueError(f"address slot {slot} is beyond the subnets {', '.join(subnets)}")


def allocate_slots(wanted: Sequence[str], recorded: Mapping[str, int]) -> dict[str, int]:
    """A slot per VM address of `wanted` (in order): the recorded one, else the lowest
    free one."""
    taken = {recorded[a] for a in wanted if a in recorded}
    slots: dict[str, int] = {}
    free = (s for s in range(len(wanted) + len(taken)) if s not in taken)
    for vm in wanted:
        slots[vm] = recorded[vm] if vm in recorded else next(free)
    return slots


def node_count(number: int, core: int, mem: int, node: Mapping[str, Any],
               vcore_type: str = "thread") -> int:
    """EnOSlib's node count for `number` VMs of `core` cores and `mem` MiB on nodes
    described like `node` (the reference API's node description)."""
    if number <= 0:
        return 0
    arch = node.get("architecture", {})
    cores = int(arch.get("nb_threads" if vcore_type == "thread" else "nb_cores") or
                arch.get("nb_cores") or 1)
    ram = int(node.get("main_memory", {}).get("ram_size") or 0) // (1024 * 1024)
    reserved = min(max(ram * 0.02, 256), 4096)
    by_cpu = math.ceil(number * core / cores)
    by_mem = math.ceil(number * mem / (ram - reserved)) if ram > reserved else number
    return min(max(by_cpu, by_mem, 1), number)


def round_robin(count: int, nodes: int) -> list[int]:
    """The node position of each of `count` VMs over `nodes` nodes."""
    return [k % nodes for k in range(count)] if nodes else []


def sorted_nodes(nodes: Iterable[str]) -> list[str]:
    """Nodes in the order VMs go round: by cluster, then node number."""
    def key(fqdn: str) -> tuple[str, int, str]:
        short = fqdn.split(".", 1)[0]
        cluster, _, number = short.rpartition("-")
        return (cluster, int(number) if number.isdigit() else 0, fqdn)
    return sorted(nodes, key=key)
