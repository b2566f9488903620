"""The `local` driver: SSH-reachable hosts on this machine, made of Linux namespaces.

Resource kinds (addresses for provider instance `here`):

| address                    | kind         | what                                           |
|----------------------------|--------------|------------------------------------------------|
| `here.key[ssh]`            | local_key    | the stack's ed25519 user key + sshd host key    |
| `here.bridge[<net>]`       | local_bridge | a bridge holding the network's gateway address |
| `here.host[<host>]`        | local_host   | a network namespace + a UTS namespace (hostname)|
| `here.veth[<host>/<net>]`  | local_veth   | a veth pair: bridge port <-> `<net>` in the host|
| `here.sshd[<host>]`        | local_sshd   | an OpenSSH server inside the host              |

Dependencies: veth -> host, bridge; sshd -> host, its veths, key. Nothing is updated in
place: any input change replaces the object. Names and addresses: see `layout`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from bedform import machines as system
from bedform.errors import PreflightError, ProviderError
from bedform.machines import netlink
from bedform.providers.base import (
    ApplyContext,
    Capabilities,
    DriverContext,
    KindSpec,
    Observed,
    Resource,
)
from bedform.providers.local import layout
from bedform.providers.local.config import SCHEMA, LocalConf
from bedform.state.model import Record, Status

KEY = "local_key"
BRIDGE = "local_bridge"
HOST = "local_host"
VETH = "local_veth"
SSHD = "local_sshd"

INSTALL_HINT = ("Install the missing programs, e.g. on Debian/Ubuntu: "
                "apt-get install iproute2 openssh-server util-linux")


class LocalDriver:
    """Driver of the `local` provider (see the module docstring)."""

    type_name: ClassVar[str] = "local"
    kinds: ClassVar[Mapping[str, KindSpec]] = {
        KEY: KindSpec(KEY, description="ed25519 user key and sshd host key of the stack"),
        BRIDGE: KindSpec(BRIDGE, description="Linux bridge holding a network's gateway"),
        # deploy: `init(force_deploy=True)` rebuilds the hosts, their links and sshd
        HOST: KindSpec(HOST, deploy=True,
                       description="network + UTS namespace with its hostname"),
        VETH: KindSpec(VETH, deploy=True, description="veth pair joining a host to a network"),
        SSHD: KindSpec(SSHD, deploy=True, description="OpenSSH server inside a host"),
    }
    capabilities: ClassVar[Capabilities] = Capabilities()

    ssh_port: ClassVar[int] = 22

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self.sid = layout.short_id(context.stack_id)
        self.ssh_timeout = float(context.options.get("ssh_timeout", 20.0))
        self._conf: LocalConf | None = None
        self._lock = threading.Lock()

    # -- configuration ------------------------------------------------------------------
    @classmethod
    def schema(cls) -> dict[str, Any]:
        import copy

        return copy.deepcopy(SCHEMA)

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> LocalConf:
        """Validate a section (a `type` key is ignored); ConfigError paths are relative
        to the section. Callable on the class."""
        data = {k: v for k, v in dict(section).items() if k != "type"}
        return LocalConf.from_dictionary(data)

    def _as_conf(self, conf: Any) -> LocalConf:
        conf = conf if isinstance(conf, LocalConf) else self.load_config(conf)
        self._conf = conf
        return conf

    # -- preflight ------------------------------------------------------------------------
    def preflight(self, conf: Any = None) -> None:
        """Root, iproute2, util-linux, and (with `ssh: true`) OpenSSH and a usable account.

        Uses `conf` or the last conf this driver expanded; without either it assumes
        `ssh: true`, the default."""
        if conf is not None:
            self._as_conf(conf)
        problems: list[str] = []
        fixes: list[str] = []
        if not _has_net_admin():
            problems.append(
                "root privileges (CAP_NET_ADMIN and CAP_SYS_ADMIN) to create network "
                "namespaces, bridges and veth pairs")
            fixes.append("Run bedform as root (e.g. `sudo bedform apply`).")
        if not os.path.exists("/proc/self/ns/net"):
            problems.append("a kernel with network namespaces")
        conf = self._conf
        need_ssh = conf.ssh if conf is not None else True
        programs = [("ip", "iproute2"), ("unshare", "util-linux"), ("nsenter", "util-linux")]
        if need_ssh:
            programs += [("sshd", "openssh-server"), ("ssh-keygen", "openssh-client")]
        missing = [(prog, pkg) for prog, pkg in programs if not system.which(prog)]
        if missing:
            problems.append("the programs " + ", ".join(f"{p} ({pkg})" for p, pkg in missing))
            fixes.append(INSTALL_HINT)
        if need_ssh and conf is not None:
            problem, fix = _account_problem(conf.user)
            if problem:
                problems.append(problem)
                fixes.append(fix)
        if problems:
            raise PreflightError("The local provider needs " + "; and ".join(problems) + ".",
                                 hint="\n".join(fixes))

    # -- desired resources -----------------------------------------------------------------
    def expand(self, name: str, conf: Any,
               records: Mapping[str, Record] | Sequence[Record] | None = None
               ) -> list[Resource]:
        """Desired resources of instance `name`.

        `records` (optional, the prior state) pins each existing host to its recorded
        address, so even adding or removing machine groups never renumbers a host.
        """
        conf = self._as_conf(conf)
        prior = _prior_addresses(name, records)
        plan = layout.plan(name, conf, self.context.stack_id, prior)
        nets = {n.id: n for n in conf.effective_networks}
        out: list[Resource] = []

        key_address = f"{name}.key[ssh]"
        if conf.ssh:
            out.append(Resource(
                address=key_address, kind=KEY, provider=name,
                inputs={"instance": name, "type": "ed25519"},
                identity={"instance": name, "file": "id_ed25519"},
            ))
        for net in conf.effective_networks:
            ifname = plan.bridges[net.id]
            gateway = f"{net.gateway}/{net.network.prefixlen}"
            out.append(Resource(
                address=f"{name}.bridge[{net.id}]", kind=BRIDGE, provider=name,
                inputs={"network": net.id, "ifname": ifname, "cidr": net.cidr,
                        "gateway": gateway, "mac": layout.bridge_mac(plan.sid, name, net.id)},
                identity={"ifname": ifname},
            ))
        for host in plan.hosts:
            host_address = f"{name}.host[{host.name}]"
            out.append(Resource(
                address=host_address, kind=HOST, provider=name,
                inputs={"hostname": host.name, "netns": host.netns, "uts": host.uts},
                identity={"netns": host.netns, "uts": host.uts},
            ))
            veths = []
            for position, net_id in enumerate(host.networks):
                address = f"{name}.veth[{host.name}/{net_id}]"
                veths.append(address)
                ifname = plan.veths[(host.name, net_id)]
                out.append(Resource(
                    address=address, kind=VETH, provider=name,
                    inputs={
                        "host": host.name, "network": net_id, "netns": host.netns,
                        "ifname": ifname, "peer": net_id, "bridge": plan.bridges[net_id],
                        "address": plan.addresses[(host.name, net_id)],
                        # the primary network's gateway is the host's default route
                        "gateway": str(nets[net_id].gateway) if position == 0 else None,
                    },
                    depends_on=(host_address, f"{name}.bridge[{net_id}]"),
                    identity={"ifname": ifname, "netns": host.netns, "peer": net_id},
                ))
            if conf.ssh:
                out.append(Resource(
                    address=f"{name}.sshd[{host.name}]", kind=SSHD, provider=name,
                    inputs={
                        "instance": name, "host": host.name, "netns": host.netns,
                        "uts": host.uts, "port": self.ssh_port,
                        "addresses": [plan.addresses[(host.name, n)].split("/")[0]
                                      for n in host.networks],
                    },
                    depends_on=(host_address, *veths, key_address),
                    identity={"instance": name, "netns": host.netns},
                ))
        return out

    # -- files ----------------------------------------------------------------------------
    def _dir(self, instance: str) -> Path:
        """Files of this provider instance: the engine gives each instance its own
        state directory (`.bedform/providers/<instance>`)."""
        return Path(self.context.state_dir)

    def _key(self, instance: str) -> Path:
        return self._dir(instance) / "id_ed25519"

    def _host_key(self, instance: str) -> Path:
        return self._dir(instance) / "ssh_host_ed25519_key"

    def _sshd_files(self, instance: str, netns: str) -> tuple[Path, Path, Path]:
        base = self._dir(instance) / "sshd"
        return base / f"{netns}.conf", base / f"{netns}.pid", base / f"{netns}.log"

    def _alias(self, address: str) -> str:
        return f"bedform:{self.sid}:{address}".replace(" ", "_")

    # -- create ---------------------------------------------------------------------------
    def create(self, resource: Resource, ctx: ApplyContext) -> dict[str, Any]:
        inputs = dict(resource.inputs)
        try:
            if resource.kind == KEY:
                return self._create_key(inputs)
            if resource.kind == BRIDGE:
                return self._create_bridge(resource.address, inputs)
            if resource.kind == HOST:
                return self._create_host(inputs)
            if resource.kind == VETH:
                return self._create_veth(resource.address, inputs)
            if resource.kind == SSHD:
                return self._create_sshd(inputs, ctx)
        except ProviderError as exc:
            raise ProviderError(f"{resource.address}: {exc.message}", hint=exc.hint) from exc
        raise ProviderError(f"{resource.address}: unknown kind {resource.kind!r}")

    def _create_key(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        instance = inputs["instance"]
        comment = f"bedform-{self.context.stack_name}-{instance}"
        public = system.ensure_keypair(self._key(instance), comment)
        host_public = system.ensure_keypair(self._host_key(instance), f"{comment}-host")
        return {"keyfile": str(self._key(instance)), "public_key": public,
                "host_public_key": host_public}

    def _create_bridge(self, address: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
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
        commands.append(f"link set dev {ifname} alias {self._alias(address)}")
        present = root.addresses_of(ifname) if link else ()
        commands += [f"addr del {a} dev {ifname}" for a in present if a != gateway]
        if gateway not in present:
            commands.append(f"addr add {gateway} dev {ifname}")
        commands.append(f"link set dev {ifname} up")
        system.ip_batch(commands, what=f"creating bridge {ifname}")
        return {"ifname": ifname, "gateway": gateway}

    def _create_host(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        netns, uts, hostname = inputs["netns"], inputs["uts"], inputs["hostname"]
        system.ensure_netns_dir()
        try:
            # arp_notify: a replaced veth comes back with a new MAC; it announces it
            # (gratuitous ARP) so that neighbours do not keep sending to the old one.
            netlink.setup_host(netns, uts, hostname, {"ipv4/conf/default/arp_notify": "1"})
        except OSError as exc:
            raise ProviderError(f"creating host {hostname} ({netns}) failed: {exc}") from exc
        return {"netns": netns, "hostname": hostname}

    def _create_veth(self, address: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
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
            f"link set dev {ifname} alias {self._alias(address)}",
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

    def _create_sshd(self, inputs: Mapping[str, Any], ctx: ApplyContext) -> dict[str, Any]:
        instance, netns, uts = inputs["instance"], inputs["netns"], inputs["uts"]
        host, port = inputs["host"], int(inputs["port"])
        addresses = list(inputs["addresses"])
        key, host_key = self._key(instance), self._host_key(instance)
        if not key.exists() or not host_key.exists():
            raise ProviderError(f"the stack's ssh keys are missing under {key.parent}",
                                hint=f"The key resource {instance}.key[ssh] creates them.")
        config, pid_file, log = self._sshd_files(instance, netns)
        text = system.sshd_config(addresses=addresses, port=port, host_key=host_key,
                                  pid_file=pid_file,
                                  authorized_keys=key.with_name(key.name + ".pub"))
        pid = _sshd_pid(config, pid_file)
        if pid is not None:
            current = config.read_text() if config.exists() else ""
            inode = system.ns_inode(netlink.netns_path(netns))
            if current != text or system.process_netns_inode(pid) != inode:
                system.stop_process(pid, str(config))
                pid = None
        if pid is None:
            system.write_file(config, text)
            system.remove_file(pid_file)
            system.start_sshd(config, log, netns, uts)
        if addresses:
            ctx.progress(f"waiting for sshd of {host} on {addresses[0]}:{port}")
            if not system.wait_ssh(addresses[0], port, self.ssh_timeout, ctx.sleep):
                raise ProviderError(
                    f"host {host}: sshd did not answer on {addresses[0]}:{port} within "
                    f"{self.ssh_timeout:g} s",
                    hint=f"sshd log {log}:\n{system.tail(log)}")
        deadline = time.monotonic() + 2.0
        while (pid := _sshd_pid(config, pid_file)) is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if pid is None:
            raise ProviderError(f"host {host}: sshd is not running",
                                hint=f"sshd log {log}:\n{system.tail(log)}")
        return {"pid": pid, "addresses": addresses, "port": port}

    # -- update / delete ------------------------------------------------------------------
    def update(self, resource: Resource, record: Record, ctx: ApplyContext) -> dict[str, Any]:
        raise ProviderError(f"{resource.address}: local resources are never updated in "
                            "place (they are replaced)")

    def delete(self, record: Record, ctx: ApplyContext) -> None:
        info = {**record.attributes, **record.inputs, **record.identity}
        try:
            if record.kind == KEY:
                self._delete_key(info)
            elif record.kind == BRIDGE:
                _delete_link(info["ifname"])
            elif record.kind == HOST:
                self._delete_host(info)
            elif record.kind == VETH:
                self._delete_veth(info)
            elif record.kind == SSHD:
                self._delete_sshd(info, record.attributes.get("pid"))
        except ProviderError as exc:
            raise ProviderError(f"{record.address}: {exc.message}", hint=exc.hint) from exc

    def _delete_key(self, info: Mapping[str, Any]) -> None:
        instance = info["instance"]
        for path in (self._key(instance), self._host_key(instance)):
            system.remove_file(path)
            system.remove_file(path.with_name(path.name + ".pub"))
        with contextlib.suppress(OSError):
            (self._dir(instance) / "sshd").rmdir()  # only when empty

    def _delete_host(self, info: Mapping[str, Any]) -> None:
        netns, uts = info["netns"], info["uts"]
        path = netlink.netns_path(netns)
        inode = system.ns_inode(path) if os.path.ismount(path) else None
        if inode is not None:
            # Whatever still runs in the host (ssh sessions, daemons started there) goes.
            system.kill_all(system.pids_in_netns(inode))
        system.delete_uts(uts)
        system.delete_netns(netns)

    def _delete_veth(self, info: Mapping[str, Any]) -> None:
        if _delete_link(info["ifname"]):
            return
        _, nets, _ = netlink.observe([info["netns"]])
        ns = nets.get(info["netns"])
        peer = ns.by_name(info["peer"]) if ns else None
        if peer is not None and peer.kind == "veth":
            system.ip_batch([f"link del dev {info['peer']}"], netns=info["netns"])

    def _delete_sshd(self, info: Mapping[str, Any], recorded_pid: Any) -> None:
        config, pid_file, log = self._sshd_files(info["instance"], info["netns"])
        for pid in {recorded_pid, system.read_pid(pid_file)} - {None}:
            system.stop_process(int(pid), str(config))
        for path in (config, pid_file, log):
            system.remove_file(path)
        with contextlib.suppress(OSError):
            config.parent.rmdir()

    # -- import ---------------------------------------------------------------------------
    def import_object(self, resource: Resource, remote_id: str) -> dict[str, Any]:
        """Attributes of an existing object `resource` should manage.

        Local objects are named deterministically, so `remote_id` must be the name the
        resource expects: the namespace of a host or sshd, the interface of a bridge or
        veth, the private key file name (id_ed25519) of a key.
        """
        names = {KEY: "file", BRIDGE: "ifname", HOST: "netns", VETH: "ifname", SSHD: "netns"}
        field = names.get(resource.kind)
        if field is None:
            raise ProviderError(f"{resource.address}: unknown kind {resource.kind!r}")
        expected = resource.identity.get(field) or resource.inputs.get(field)
        if remote_id != expected:
            raise ProviderError(
                f"{resource.address}: cannot manage {remote_id!r} as this resource",
                hint=f"Local objects carry fixed names: import it as {expected!r}.")
        record = Record(address=resource.address, kind=resource.kind,
                        provider=resource.provider, status=Status.PENDING_CREATE,
                        inputs=dict(resource.inputs), identity=dict(resource.identity))
        observed = self.refresh([record]).get(resource.address)
        if observed is None or not observed.alive:
            reason = observed.reason if observed is not None else "not found"
            raise ProviderError(f"{resource.address}: no {remote_id!r} to import ({reason})")
        return dict(observed.attributes)

    # -- refresh --------------------------------------------------------------------------
    def refresh(self, records: Sequence[Record]) -> dict[str, Observed]:
        records = list(records.values()) if isinstance(records, Mapping) else list(records)
        netns_names = [r.identity.get("netns") or r.inputs.get("netns") for r in records
                       if r.kind in (HOST, VETH, SSHD)]
        uts_paths = [r.identity.get("uts") or r.inputs.get("uts") for r in records
                     if r.kind == HOST]
        root, nets, hostnames = netlink.observe([n for n in netns_names if n],
                                                [u for u in uts_paths if u], root=True,
                                                listening=any(r.kind == SSHD for r in records))
        mounts = netlink.mount_points()
        out: dict[str, Observed] = {}
        for record in records:
            info = {**record.attributes, **record.inputs, **record.identity}
            try:
                observed = self._observe(record, info, root, nets, hostnames, mounts)
            except KeyError as exc:
                observed = Observed(alive=False, reason=f"record lacks {exc.args[0]!r}")
            if observed is None:
                continue
            if record.status == Status.PENDING_CREATE and observed.alive and observed.drift:
                observed = Observed(
                    alive=False,
                    reason="left incomplete by an interrupted run: " + "; ".join(observed.drift))
            out[record.address] = observed
        return out

    def _observe(self, record: Record, info: Mapping[str, Any], root: netlink.Snapshot,
                 nets: Mapping[str, netlink.Snapshot | None],
                 hostnames: Mapping[str, str | None], mounts: set[str]) -> Observed | None:
        kind = record.kind
        if kind == KEY:
            key = self._key(info["instance"])
            pub = key.with_name(key.name + ".pub")
            host_key = self._host_key(info["instance"])
            if not (key.exists() and pub.exists() and host_key.exists()):
                return Observed(alive=False, reason="the ssh key files are gone")
            drift = []
            if key.stat().st_mode & 0o077:
                drift.append(f"{key} is readable by others")
            return Observed(alive=True, drift=drift, attributes={
                "keyfile": str(key), "public_key": pub.read_text().strip(),
                "host_public_key": record.attributes.get("host_public_key")})

        if kind == BRIDGE:
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

        if kind == HOST:
            netns, uts, hostname = info["netns"], info["uts"], info["hostname"]
            ns = nets.get(netns)
            if netlink.netns_path(netns) not in mounts or ns is None:
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

        if kind == VETH:
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

        if kind == SSHD:
            config, pid_file, _ = self._sshd_files(info["instance"], info["netns"])
            pid = _sshd_pid(config, pid_file, record.attributes.get("pid"))
            if pid is None:
                return Observed(alive=False, reason="sshd is not running")
            drift = []
            inode = system.ns_inode(netlink.netns_path(info["netns"]))
            if inode is None or system.process_netns_inode(pid) != inode:
                drift.append(f"sshd runs outside namespace {info['netns']}")
            port = int(info.get("port", self.ssh_port))
            ns = nets.get(info["netns"])
            listening = ns.listening if ns is not None else frozenset()
            for address in info.get("addresses", []):
                if (address, port) not in listening and ("0.0.0.0", port) not in listening:
                    drift.append(f"sshd is not listening on {address}:{port}")
            return Observed(alive=True, drift=drift, attributes={
                "pid": pid, "addresses": list(info.get("addresses", [])), "port": port})
        return None

    # -- inventory ------------------------------------------------------------------------
    def inventory(self, name: str, conf: Any, records: Mapping[str, Record]) -> tuple[Any, Any]:
        from bedform.objects import DefaultNetwork, Host, Networks, Roles

        conf = self._as_conf(conf)
        mine = {a: r for a, r in dict(records).items()
                if a.startswith(f"{name}.") and r.status == Status.READY}

        def ready(address: str) -> Record | None:
            return mine.get(address)

        keyfile = str(self._key(name)) if conf.ssh else None
        roles = Roles()
        allocated: dict[str, list[ipaddress.IPv4Interface]] = {}
        for record in mine.values():
            if record.kind == VETH:
                value = record.attributes.get("address") or record.inputs.get("address")
                if value:
                    allocated.setdefault(record.inputs.get("network"), []).append(
                        ipaddress.IPv4Interface(value))
        for machine in conf.machines:
            net_ids = [n.id for n in conf.networks_of(machine)]
            for n in range(1, machine.number + 1):
                host_name = f"{machine.group_name}-{n}"
                host_record = ready(f"{name}.host[{host_name}]")
                if host_record is None:
                    continue
                if conf.ssh and ready(f"{name}.sshd[{host_name}]") is None:
                    continue
                addresses = []
                for net_id in net_ids:
                    veth = ready(f"{name}.veth[{host_name}/{net_id}]")
                    if veth is not None:
                        value = veth.attributes.get("address") or veth.inputs.get("address")
                        addresses.append(value.split("/")[0])
                if not addresses:
                    continue
                netns = host_record.inputs.get("netns") or host_record.identity.get("netns")
                host = Host(addresses[0], alias=host_name, user=conf.user, keyfile=keyfile,
                            extra={"netns": netns})
                _add(roles, host, machine.roles)

        networks = Networks()
        for net in conf.effective_networks:
            network = net.network
            used = [i.ip for i in allocated.get(net.id, []) if i.network == network]
            start = max([*used, net.gateway]) + 1
            end = network.broadcast_address
            entry = DefaultNetwork(address=net.cidr, gateway=str(net.gateway), dns=None,
                                   ip_start=str(min(start, end)), ip_end=str(end))
            _add(networks, entry, net.effective_roles)
        return roles, networks


# -- helpers ------------------------------------------------------------------------------

def _add(container: Any, item: Any, keys: Sequence[str]) -> None:
    if hasattr(container, "add_one"):
        container.add_one(item, list(keys))
        return
    for key in keys:
        container[key] += [item]


def _paired(rlink: netlink.Link | None, plink: netlink.Link | None) -> bool:
    """Both ends exist and point at each other (ifindexes across the namespace pair)."""
    return (rlink is not None and plink is not None and rlink.kind == "veth"
            and plink.kind == "veth" and plink.link == rlink.index
            and rlink.link == plink.index)


def _delete_link(ifname: str) -> bool:
    """Delete an interface of this machine; False when it was already gone."""
    if not os.path.exists(f"/sys/class/net/{ifname}"):
        return False
    try:
        system.ip_batch([f"link del dev {ifname}"], what=f"deleting {ifname}")
    except ProviderError:
        if os.path.exists(f"/sys/class/net/{ifname}"):
            raise
    return True


def _sshd_pid(config: Path, pid_file: Path, *candidates: Any) -> int | None:
    """The pid of the sshd started with `config`, if one runs."""
    marker = str(config)
    for pid in candidates:
        if pid is not None and system.is_running(int(pid)) and marker in system.cmdline(int(pid)):
            return int(pid)
    pid = system.read_pid(pid_file)
    if pid is not None and system.is_running(pid) and marker in system.cmdline(pid):
        return pid
    return None


def _prior_addresses(name: str, records: Any) -> dict[tuple[str, str], str]:
    if not records:
        return {}
    items = records.values() if isinstance(records, Mapping) else records
    out = {}
    for record in items:
        if record.kind != VETH or not record.address.startswith(f"{name}."):
            continue
        if record.status == Status.PENDING_DELETE:
            continue
        value = record.attributes.get("address") or record.inputs.get("address")
        host, net = record.inputs.get("host"), record.inputs.get("network")
        if value and host and net:
            out[(host, net)] = value
    return out


def _account_problem(user: str) -> tuple[str, str]:
    """Why sshd (without PAM) would refuse `user`, and the fix; ("", "") if it would not."""
    import pwd

    try:
        pwd.getpwnam(user)
    except KeyError:
        return (f"the user {user!r} (the `user:` of the configuration) to exist on this "
                f"machine", f"Create it (useradd -m {user}) or use `user: root`.")
    try:
        with open("/etc/shadow", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name == user and rest.startswith("!"):
                    return (f"the account {user!r} to be unlocked (sshd runs without PAM "
                            f"and refuses locked accounts)",
                            f"Unlock it for key logins: usermod -p '*' {user}")
    except OSError:
        pass
    return "", ""


def _has_net_admin() -> bool:
    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    caps = int(line.split()[1], 16)
                    return bool(caps & (1 << 12)) and bool(caps & (1 << 21))
    except OSError:
        pass
    return False
