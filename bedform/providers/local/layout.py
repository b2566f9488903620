"""Where everything of a `local` provider instance lives: names and addresses.

Pure functions of (stack id, instance name, configuration[, prior allocations]) so that a
plan computed twice, or by another process, names and numbers everything the same way.

Naming rule
-----------
* host names: `<group>-<n>`, `group` the machine group's `name` or its first role, `n`
  from 1 in the group. Growing a group appends hosts; it never renames one.
* network namespace: `<prefix>-<stack id>-<instance>-<host>` (e.g. `bf-1a2b3c4d-here-server-1`),
  its UTS namespace bind-mounted at `/run/bedform/uts/<same name>`.
* interfaces on this machine (kernel limit 15 characters): `bf` + the 8-character stack id
  + 5 base-36 characters hashed from (kind, instance, network[, host]), e.g. `bf1a2b3c4dk3v9q`.
  The stack id keeps two stacks apart; inside one stack a hash collision (odds about one
  in 60 million per pair) is resolved deterministically by salting the later address.
  Each interface also carries the alias `bedform:<stack id>:<resource address>`.
* inside a host, the interface of network `lan` is named `lan`.

Address allocation rule
-----------------------
In network N (cidr C), the gateway is the first address (on this machine's bridge). The
host addresses after it are split into G equal shares, G being the number of machine groups
that join N; the k-th such group (configuration order) owns the k-th share, and its n-th
host gets the n-th address of that share:

    address(host n of group k) = network address + 2 + k * (usable // G) + (n - 1)

with usable = size of C - 3 (network, gateway, broadcast). So growing or shrinking a group
never renumbers any host; adding, removing or reordering groups on N changes the shares.
When the engine passes the prior records (`expand(..., records=...)`) every existing host
keeps its recorded address whatever the shares became, and a new host takes its rule address
if free, else the lowest free one: the mapping is then stable under any edit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping

import attrs

from bedform.errors import ConfigError
from bedform.providers.local.config import LocalConf, usable_addresses

UTS_DIR = "/run/bedform/uts"
IFNAME_MAX = 15
IFNAME_PREFIX = "bf"
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def short_id(stack_id: str) -> str:
    """The 8-character stack id used in names (the id itself when it is 8 hex chars)."""
    text = str(stack_id).lower()
    if re.fullmatch(r"[0-9a-f]{8}", text):
        return text
    return _base36(_digest("stack", text), 8)


def _digest(*parts: str) -> int:
    data = "\0".join(parts).encode()
    return int.from_bytes(hashlib.blake2s(data, digest_size=16).digest(), "big")


def _base36(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, rest = divmod(number, 36)
        out.append(_B36[rest])
    return "".join(out)


def netns_name(prefix: str, sid: str, instance: str, host: str) -> str:
    return f"{prefix}-{sid}-{instance}-{host}"


def uts_path(netns: str) -> str:
    return f"{UTS_DIR}/{netns}"


def netns_prefix(prefix: str, sid: str) -> str:
    return f"{prefix}-{sid}-"


def ifname_prefix(sid: str) -> str:
    return f"{IFNAME_PREFIX}{sid}"


def bridge_mac(sid: str, instance: str, network: str) -> str:
    """A fixed, locally administered MAC: a bridge then keeps it when ports join."""
    raw = _digest("mac", sid, instance, network).to_bytes(16, "big")[:5]
    return ":".join(f"{b:02x}" for b in (0x02, *raw))


@attrs.frozen
class HostLayout:
    name: str
    group: int  # index of its machine group in the configuration
    index: int  # n, from 1
    roles: tuple[str, ...]
    netns: str
    uts: str
    networks: tuple[str, ...]  # network ids, primary first


@attrs.frozen
class Layout:
    instance: str
    sid: str
    hosts: tuple[HostLayout, ...]
    bridges: Mapping[str, str]  # network id -> bridge ifname
    veths: Mapping[tuple[str, str], str]  # (host, network id) -> ifname on this machine
    addresses: Mapping[tuple[str, str], str]  # (host, network id) -> "a.b.c.d/len"


def plan(instance: str, conf: LocalConf, stack_id: str,
         prior: Mapping[tuple[str, str], str] | None = None) -> Layout:
    """Names and addresses of everything `conf` asks for."""
    sid = short_id(stack_id)
    hosts = []
    for group_index, machine in enumerate(conf.machines):
        nets = tuple(n.id for n in conf.networks_of(machine))
        for n in range(1, machine.number + 1):
            name = f"{machine.group_name}-{n}"
            ns = netns_name(conf.prefix, sid, instance, name)
            hosts.append(HostLayout(name, group_index, n, tuple(machine.roles), ns,
                                    uts_path(ns), nets))
    names: dict[str, tuple[str, ...]] = {}
    for net in conf.effective_networks:
        names[f"bridge/{net.id}"] = ("bridge", instance, net.id)
    for host in hosts:
        for net_id in host.networks:
            names[f"veth/{host.name}/{net_id}"] = ("veth", instance, host.name, net_id)
    ifnames = _ifnames(sid, names)
    return Layout(
        instance=instance,
        sid=sid,
        hosts=tuple(hosts),
        bridges={net.id: ifnames[f"bridge/{net.id}"] for net in conf.effective_networks},
        veths={(h.name, net_id): ifnames[f"veth/{h.name}/{net_id}"]
               for h in hosts for net_id in h.networks},
        addresses=allocate(conf, hosts, prior or {}),
    )


def _ifnames(sid: str, wanted: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    base = ifname_prefix(sid)
    width = IFNAME_MAX - len(base)
    used: set[str] = set()
    out: dict[str, str] = {}
    for key in sorted(wanted):
        salt = 0
        while True:
            name = base + _base36(_digest(*wanted[key], str(salt) if salt else ""), width)
            if name not in used:
                break
            salt += 1
        used.add(name)
        out[key] = name
    return out


def allocate(conf: LocalConf, hosts: Iterable[HostLayout],
             prior: Mapping[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """(host, network id) -> address/len, by the rule in this module's docstring."""
    hosts = list(hosts)
    out: dict[tuple[str, str], str] = {}
    for net in conf.effective_networks:
        network = net.network
        first, last = 2, network.num_addresses - 2  # offsets of usable host addresses
        groups = [i for i, m in enumerate(conf.machines)
                  if net.id in {n.id for n in conf.networks_of(m)}]
        if not groups:
            continue
        share = usable_addresses(network) // len(groups)
        members = [h for h in hosts if net.id in h.networks]

        taken: dict[int, str] = {}
        for host in members:
            offset = _prior_offset(network, prior.get((host.name, net.id)), first, last)
            if offset is not None and offset not in taken:
                taken[offset] = host.name
                out[(host.name, net.id)] = _format(network, offset)
        pending = [h for h in members if (h.name, net.id) not in out]
        wished = {h.name: first + groups.index(h.group) * share + (h.index - 1)
                  for h in pending}
        fallback = []
        for host in pending:
            offset = wished[host.name]
            if offset in taken or offset > last:
                fallback.append(host)
                continue
            taken[offset] = host.name
            out[(host.name, net.id)] = _format(network, offset)
        reserved = set(taken) | set(wished.values())
        candidates = (o for o in range(first, last + 1) if o not in reserved)
        for host in fallback:
            offset = next(candidates, None)
            if offset is None:
                raise ConfigError(
                    f"network {net.id} ({net.cidr}) has no free address left for "
                    f"host {host.name}", ("resources", "networks"),
                    hint="Use a larger cidr.")
            taken[offset] = host.name
            out[(host.name, net.id)] = _format(network, offset)
    return out


def _prior_offset(network: ipaddress.IPv4Network, address: str | None,
                  first: int, last: int) -> int | None:
    if not address:
        return None
    try:
        interface = ipaddress.IPv4Interface(address)
    except ValueError:
        return None
    if interface.network != network:
        return None
    offset = int(interface.ip) - int(network.network_address)
    return offset if first <= offset <= last else None


def _format(network: ipaddress.IPv4Network, offset: int) -> str:
    return f"{network.network_address + offset}/{network.prefixlen}"
