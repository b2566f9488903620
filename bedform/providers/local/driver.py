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

import ipaddress
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from bedform import machines as system
from bedform.errors import PreflightError
from bedform.providers.base import Capabilities, DriverContext, Resource
from bedform.providers.kinds import KindDriver
from bedform.providers.local import layout
from bedform.providers.local.config import SCHEMA, LocalConf
from bedform.providers.local.kinds import (
    BRIDGE,
    HOST,
    KEY,
    SSHD,
    VETH,
    BridgeKind,
    HostKind,
    Snapshot,
    VethKind,
    take_snapshot,
)
from bedform.providers.local.ssh import KeyKind, SshdKind
from bedform.state.model import Record, Status

INSTALL_HINT = ("Install the missing programs, e.g. on Debian/Ubuntu: "
                "apt-get install iproute2 openssh-server util-linux")


class LocalDriver(KindDriver):
    """Driver of the `local` provider (see the module docstring)."""

    type_name: ClassVar[str] = "local"
    handlers = (KeyKind, BridgeKind, HostKind, VethKind, SshdKind)
    capabilities: ClassVar[Capabilities] = Capabilities()

    ssh_port: ClassVar[int] = 22

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.sid = layout.short_id(context.stack_id)
        self.ssh_timeout = float(context.options.get("ssh_timeout", 20.0))
        self._conf: LocalConf | None = None

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
    def files_dir(self, instance: str) -> Path:
        """Files of this provider instance: the engine gives each instance its own
        state directory (`.bedform/providers/<instance>`)."""
        return Path(self.context.state_dir)

    def key_file(self, instance: str) -> Path:
        """The stack's private user key."""
        return self.files_dir(instance) / "id_ed25519"

    def host_key_file(self, instance: str) -> Path:
        """The sshd host key shared by the instance's hosts."""
        return self.files_dir(instance) / "ssh_host_ed25519_key"

    def sshd_files(self, instance: str, netns: str) -> tuple[Path, Path, Path]:
        """Configuration, pid file and log of the sshd of a host."""
        base = self.files_dir(instance) / "sshd"
        return base / f"{netns}.conf", base / f"{netns}.pid", base / f"{netns}.log"

    def alias(self, address: str) -> str:
        """The interface alias naming the resource that owns it."""
        return f"bedform:{self.sid}:{address}".replace(" ", "_")

    # -- refresh --------------------------------------------------------------------------
    def snapshot(self, records: Sequence[Record]) -> Snapshot:
        return take_snapshot(records)

    # -- inventory ------------------------------------------------------------------------
    def inventory(self, name: str, conf: Any, records: Mapping[str, Record]) -> tuple[Any, Any]:
        from bedform.objects import DefaultNetwork, Host, Networks, Roles

        conf = self._as_conf(conf)
        mine = {a: r for a, r in dict(records).items()
                if a.startswith(f"{name}.") and r.status == Status.READY}

        def ready(address: str) -> Record | None:
            return mine.get(address)

        keyfile = str(self.key_file(name)) if conf.ssh else None
        roles = Roles()
        allocated: dict[str | None, list[ipaddress.IPv4Interface]] = {}
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
                        value = veth.attributes.get("address") or veth.inputs["address"]
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
