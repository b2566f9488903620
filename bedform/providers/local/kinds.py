"""The local provider's kinds: key, bridge, host, veth and sshd (see driver.py).

Each handler observes its records in the refresh's one shared snapshot of this machine
(`Snapshot`: the root namespace's links and addresses, the hosts' namespaces, their
hostnames, listening sockets and mount points), so a refresh costs one netlink dump
per namespace whatever the number of objects.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from bedform import machines as system
from bedform.errors import ProviderError
from bedform.machines import netlink
from bedform.machines.errors import MachineError
from bedform.providers.base import ApplyContext, KindSpec, Observed, Resource
from bedform.providers.kinds import KindHandler, RefreshView
from bedform.state.model import Record, Status

if TYPE_CHECKING:
    from bedform.providers.local.driver import LocalDriver  # noqa: F401 - in a string

KEY = "local_key"
BRIDGE = "local_bridge"
HOST = "local_host"
VETH = "local_veth"
SSHD = "local_sshd"


@attrs.frozen
class Snapshot:
    """One look at this machine, shared by every kind's refresh."""

    root: netlink.Snapshot
    nets: Mapping[str, netlink.Snapshot | None]
    hostnames: Mapping[str, str | None]
    mounts: set[str]


def take_snapshot(records: Sequence[Record]) -> Snapshot:
    """Observe the namespaces, hostnames and sockets `records` refer to."""
    netns_names = [r.identity.get("netns") or r.inputs.get("netns") for r in records
                   if r.kind in (HOST, VETH, SSHD)]
    uts_paths = [r.identity.get("uts") or r.inputs.get("uts") for r in records
                 if r.kind == HOST]
    root, nets, hostnames = netlink.observe([n for n in netns_names if n],
                                            [u for u in uts_paths if u], root=True,
                                            listening=any(r.kind == SSHD for r in records))
    return Snapshot(root, nets, hostnames, netlink.mount_points())


class LocalKind(KindHandler["LocalDriver"]):
    """What the local kinds share: observation in the snapshot, import by fixed name."""

    name_field: ClassVar[str]
    """The field naming the object on this machine (namespace, interface, file)."""

    def refresh(self, records: Sequence[Record], view: RefreshView) -> dict[str, Observed]:
        out: dict[str, Observed] = {}
        for record in records:
            info = {**record.attributes, **record.inputs, **record.identity}
            try:
                observed = self.observe(record, info, view.snapshot)
            except KeyError as exc:
                observed = Observed(alive=False, reason=f"record lacks {exc.args[0]!r}")
            if record.status == Status.PENDING_CREATE and observed.alive and observed.drift:
                observed = Observed(
                    alive=False,
                    reason="left incomplete by an interrupted run: " + "; ".join(observed.drift))
            out[record.address] = observed
        return out

    def observe(self, record: Record, info: Mapping[str, Any], snap: Snapshot) -> Observed:
        """What the snapshot shows of one record."""
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.import_format = f"its fixed name on this machine: the {cls.name_field} the plan shows"

    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        """Local objects are named deterministically: `remote_id` must be the name the
        resource expects (namespace of a host or sshd, interface of a bridge or veth,
        key file name of a key)."""
        expected = resource.identity.get(self.name_field) or \
            resource.inputs.get(self.name_field)
        if remote_id != expected:
            raise ProviderError(
                f"cannot manage {remote_id!r} as this resource",
                hint=f"Local objects carry fixed names: import it as {expected!r}.")
        record = Record(address=resource.address, kind=resource.kind,
                        provider=resource.provider, status=Status.PENDING_CREATE,
                        inputs=dict(resource.inputs), identity=dict(resource.identity))
        observed = self.driver.refresh([record]).get(resource.address)
        if observed is None or not observed.alive:
            reason = observed.reason if observed is not None else "not found"
            raise ProviderError(f"no {remote_id!r} to import ({reason})")
        return dict(observed.attributes)


class BridgeKind(LocalKind):
    """A Linux bridge holding a network's gateway address."""

    spec = KindSpec(BRIDGE, description="Linux bridge holding a network's gateway")
    name_field = "ifname"

    def observe(self, record: Record, info: Mapping[str, Any], snap: Snapshot) -> Observed:
        root = snap.root
        ifname, gateway = info["ifname"], info["gateway"]
        link = root.by_name(ifname)
        if link is None or link.kind != "bridge":
            return Observed(alive=False, reason=f"bridge {ifname} is gone")
        drift = []
        if gateway not in root.addresses.get(link.index, ()):
            drift.append(f"address {gateway} missing on bridge {ifname}")
        if not link.up:
            drift.append(f"bridge {ifname} is down")
        return Observed(alive=True, drift=drift,
                        attributes={"ifname": ifname, "gateway": gateway})

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        address, inputs = resource.address, resource.inputs
        ifname, gateway = inputs["ifname"], inputs["gateway"]
        network = ipaddress.IPv4Network(inputs["cidr"])
        root, _, _ = netlink.observe(root=True)
        link = root.by_name(ifname)
        if link and link.kind != "bridge":
            raise ProviderError(f"interface {ifname} exists and is not a bridge")
        for other, device in root.all_addresses().items():
            if device != ifname and ipaddress.IPv4Interface(other).network.overlaps(network):
                raise ProviderError(
                    f"network {inputs['network']} ({network}) is already in use on this "
                    f"machine: {device} has {other}",
                    hint="Two networks on one machine need disjoint cidrs (another stack "
                         "may use this one): choose another cidr in 198.18.0.0/15, e.g. "
                         "198.18.7.0/24.")
        commands = []
        if not link:
            commands.append(f"link add name {ifname} address {inputs['mac']} type bridge")
        commands.append(f"link set dev {ifname} alias {self.driver.alias(address)}")
        present = root.addresses_of(ifname) if link else ()
        commands += [f"addr del {a} dev {ifname}" for a in present if a != gateway]
        if gateway not in present:
            commands.append(f"addr add {gateway} dev {ifname}")
        commands.append(f"link set dev {ifname} up")
        system.ip_batch(commands, what=f"creating bridge {ifname}")
        return {"ifname": ifname, "gateway": gateway}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        delete_link(record.inputs.get("ifname") or record.identity["ifname"])


class HostKind(LocalKind):
    """A network namespace plus a UTS namespace carrying the hostname."""

    # deploy: `init(force_deploy=True)` rebuilds the hosts, their links and sshd
    spec = KindSpec(HOST, deploy=True, description="network + UTS namespace with its hostname")
    name_field = "netns"

    def observe(self, record: Record, info: Mapping[str, Any], snap: Snapshot) -> Observed:
        nets, hostnames, mounts = snap.nets, snap.hostnames, snap.mounts
        netns, uts, hostname = info["netns"], info["uts"], info["hostname"]
        ns = nets.get(netns)
        if netlink.netns_path(netns) not in mounts or ns is None:
            if uts in mounts:   # what is left (the UTS mount) goes with a replacement
                return Observed(alive=True, drift=(
                    f"namespace {netns} was deleted outside bedform",))
            return Observed(alive=False, reason=f"namespace {netns} is gone")
        drift = []
        if uts not in mounts:
            drift.append(f"UTS namespace {uts} missing")
        elif hostnames.get(uts) != hostname:
            drift.append(f"hostname is {hostnames.get(uts)!r}, not {hostname!r}")
        lo = ns.by_name("lo")
        if lo is None or not lo.up:
            drift.append("loopback is down")
        return Observed(alive=True, drift=drift,
                        attributes={"netns": netns, "hostname": hostname})

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = resource.inputs
        netns, uts, hostname = inputs["netns"], inputs["uts"], inputs["hostname"]
        system.ensure_netns_dir()
        try:
            # arp_notify: a replaced veth comes back with a new MAC; it announces it
            # (gratuitous ARP) so that neighbours do not keep sending to the old one.
            netlink.setup_host(netns, uts, hostname, {"ipv4/conf/default/arp_notify": "1"})
        except OSError as exc:
            raise ProviderError(f"creating host {hostname} ({netns}) failed: {exc}") from exc
        return {"netns": netns, "hostname": hostname}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        info = {**record.attributes, **record.inputs, **record.identity}
        netns, uts = info["netns"], info["uts"]
        path = netlink.netns_path(netns)
        inode = system.ns_inode(path) if os.path.ismount(path) else None
        if inode is not None:
            # Whatever still runs in the host (ssh sessions, daemons started there) goes.
            system.kill_all(system.pids_in_netns(inode))
        system.delete_uts(uts)
        system.delete_netns(netns)


class VethKind(LocalKind):
    """A veth pair joining a host to a network's bridge, with the host's address."""

    spec = KindSpec(VETH, deploy=True, description="veth pair joining a host to a network")
    name_field = "ifname"

    def observe(self, record: Record, info: Mapping[str, Any], snap: Snapshot) -> Observed:
        root, nets = snap.root, snap.nets
        netns, ifname, peer = info["netns"], info["ifname"], info["peer"]
        wanted = info["address"]
        rlink = root.by_name(ifname)
        if rlink is None:
            return Observed(alive=False, reason=f"veth {ifname} is gone")
        drift = []
        ns = nets.get(netns)
        plink = ns.by_name(peer) if ns is not None else None
        if not _paired(rlink, plink):
            drift.append(f"{peer} is no longer in namespace {netns}")
        else:
            assert ns is not None and plink is not None  # _paired found both ends
            if wanted not in ns.addresses.get(plink.index, ()):
                drift.append(f"address {wanted} missing")
            if not plink.up:
                drift.append(f"{peer} is down in {netns}")
        bridge = root.by_name(info.get("bridge", ""))
        if bridge is None or rlink.master != bridge.index:
            drift.append(f"{ifname} is not attached to bridge {info.get('bridge')}")
        if not rlink.up:
            drift.append(f"{ifname} is down")
        return Observed(alive=True, drift=drift,
                        attributes={"ifname": ifname, "peer": peer, "address": wanted})

    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        address, inputs = resource.address, resource.inputs
        netns, ifname, peer = inputs["netns"], inputs["ifname"], inputs["peer"]
        wanted, gateway = inputs["address"], inputs.get("gateway")
        root, nets, _ = netlink.observe([netns], root=True)
        ns = nets.get(netns)
        if ns is None:
            raise ProviderError(f"namespace {netns} of host {inputs['host']} does not exist",
                                hint="Its host resource must be created first.")
        rlink, plink = root.by_name(ifname), ns.by_name(peer)
        paired = _paired(rlink, plink)
        if plink is not None and not paired:
            system.ip_batch([f"link del dev {peer}"], netns=netns,
                            what=f"removing a stale {peer} in {netns}")
        commands = []
        if rlink is not None and not paired:
            commands.append(f"link del dev {ifname}")
        if not paired:
            commands.append(f"link add name {ifname} type veth peer name {peer} netns {netns}")
        commands += [
            f"link set dev {ifname} alias {self.driver.alias(address)}",
            f"link set dev {ifname} master {inputs['bridge']}",
            f"link set dev {ifname} up",
            # forget the MAC of a previous incarnation of this host's address
            f"neigh flush to {wanted.split('/')[0]} dev {inputs['bridge']}",
        ]
        system.ip_batch(commands, what=f"creating veth {ifname}")
        present = ns.addresses_of(peer) if paired else ()
        inner = [f"addr del {a} dev {peer}" for a in present if a != wanted]
        if wanted not in present:
            inner.append(f"addr add {wanted} dev {peer}")
        inner.append(f"link set dev {peer} up")
        if gateway:
            inner.append(f"route replace default via {gateway} dev {peer}")
        system.ip_batch(inner, netns=netns, what=f"configuring {peer} in {netns}")
        return {"ifname": ifname, "peer": peer, "address": wanted}

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        info = {**record.attributes, **record.inputs, **record.identity}
        if delete_link(info["ifname"]):
            return
        _, nets, _ = netlink.observe([info["netns"]])
        ns = nets.get(info["netns"])
        peer = ns.by_name(info["peer"]) if ns else None
        if peer is not None and peer.kind == "veth":
            system.ip_batch([f"link del dev {info['peer']}"], netns=info["netns"])


def _paired(rlink: netlink.Link | None, plink: netlink.Link | None) -> bool:
    """Both ends exist and point at each other (ifindexes across the namespace pair)."""
    return (rlink is not None and plink is not None and rlink.kind == "veth"
            and plink.kind == "veth" and plink.link == rlink.index
            and rlink.link == plink.index)


def delete_link(ifname: str) -> bool:
    """Delete an interface of this machine; False when it was already gone."""
    if not os.path.exists(f"/sys/class/net/{ifname}"):
        return False
    try:
        system.ip_batch([f"link del dev {ifname}"], what=f"deleting {ifname}")
    except MachineError:
        if os.path.exists(f"/sys/class/net/{ifname}"):
            raise
    return True
