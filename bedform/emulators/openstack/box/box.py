"""`OpenstackBox`: the emulated cloud's ACTIVE servers as real SSH hosts, kept in step
with the cloud.

After every API request (and every half second, for builds that end on the virtual
clock while nobody asks) `reconcile` reads the cloud (see `spec`) and makes the hosts
match: an ACTIVE server is a host (network + UTS namespaces, one NIC per port with the
port's MAC and fixed address on its network's bridge, an sshd accepting the key pair's
public key for the image's default user, who may `sudo`); a floating IP adds the NIC
`fip0` on the external bridge, which this machine reaches; a server deleted, stopped or
failed stops answering (a stopped one keeps its home directory for its restart).
Security groups are not enforced.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import re
import secrets
import shutil
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bedform import machines
from bedform.machines import arp

from ...g5k.box import hosts
from ...g5k.box.users import write_accounts, write_home
from ..cloud import Cloud
from ..model import Server, dashed_id
from ..seed import EXTERNAL_NETWORK
from . import network
from .spec import CloudView, ServerSpec, read

BOX_ROOT = Path("/run/bedform")
PREFIX = "osbox"
RECONCILE_PERIOD = 0.5
CREATE_WORKERS = 4
FIRST_UID = 44001
LOCAL_HOSTS = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"


@dataclass
class ServerHost:
    """A server that exists as a host."""

    spec: ServerSpec
    netns: str
    user: str  # who may log in: the image's user, root when this box has no such account
    floating: str | None = None
    floating_veth: str | None = None


class OpenstackBox:
    """Network namespaces and sshds for the servers of a `Cloud`; `sync` brings a server
    up to date with the virtual clock (the emulator's Nova does it on every read)."""

    def __init__(self, cloud: Cloud, sync: Callable[[Server], None], *,
                 box_id: str | None = None, root: Path = BOX_ROOT) -> None:
        self.cloud = cloud
        self.sync = sync
        self.box_id = box_id or secrets.token_hex(4)
        self.prefix = f"{PREFIX}-{self.box_id}-"
        self.box_netns = f"{self.prefix}box"
        self.root_link = f"ob{self.box_id}"
        self.dir = root / f"{self.prefix}box"
        self.external_network = dashed_id("network", EXTERNAL_NETWORK)
        self.gateway: str | None = None  # this machine's address on the external network
        self.hosts: dict[str, ServerHost] = {}
        self.bridges: dict[str, str] = {}  # tenant network id -> bridge in the box
        self.uids: dict[str, int] = {}
        self.last_error: str | None = None
        self._names = itertools.count()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- paths ---------------------------------------------------------------------------
    def home(self, server_id: str) -> Path:
        """The /home of a server's host, seen from this machine (kept across a stop)."""
        return self.dir / "homes" / server_id

    def _shared(self, server_id: str) -> hosts.Shared:
        return hosts.Shared(etc=self.dir / "etc", home=self.home(server_id),
                            bin=self.dir / "bin", host_key=self.dir / "ssh_host_ed25519_key")

    def _files(self, netns: str) -> hosts.HostFiles:
        return hosts.HostFiles(self.dir / "hosts" / netns)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> OpenstackBox:
        """Purge what a killed box of the same id left, build the box namespace and the
        external network, then follow the cloud in the background."""
        if os.geteuid() != 0:
            raise machines.MachineError(
                "the OpenStack box needs root (network namespaces, bridges, sshd)",
                hint="Run it as root, e.g. `sudo bedform emulate openstack --box`.")
        purge(self.box_id)
        self._stop.clear()
        try:
            self._build()
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(target=self._loop, name=f"osbox-{self.box_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def _build(self) -> None:
        self.dir.mkdir(parents=True, mode=0o755)
        os.chmod(self.dir, 0o755)
        shared = self._shared("")
        machines.ensure_keypair(shared.host_key, f"osbox-{self.box_id}-host")
        with self.cloud.lock:
            logins = sorted({image.os_admin_user for image in self.cloud.images.values()}
                            - {"root"})
            external = self.cloud.networks[self.external_network]
            subnet = self.cloud.subnets[external["subnets"][0]]
            prefixlen = ipaddress.ip_network(subnet["cidr"]).prefixlen
            self.gateway = f"{subnet['gateway_ip']}/{prefixlen}"
        self.uids = {login: FIRST_UID + index for index, login in enumerate(logins)}
        write_accounts(shared, LOCAL_HOSTS, {login: [] for login in logins},
                       first_uid=FIRST_UID, label="OpenStack box", homes=[])
        # cloud images let their default user sudo without a password (sudo's PAM account
        # check wants a shadow entry: no password, never expires)
        (shared.etc / "shadow").write_text("".join(f"{login}:*:19000:0:99999:7:::\n"
                                                   for login in ["root", *logins]))
        os.chmod(shared.etc / "shadow", 0o640)
        machines.write_file(shared.etc / "sudoers.d" / "90-bedform-cloud-users",
                            "".join(f"{login} ALL=(ALL) NOPASSWD:ALL\n" for login in logins),
                            0o440)
        os.chmod(shared.etc / "sudoers.d", 0o755)
        hosts.create_namespaces(self.box_netns, "box")
        network.create_external(self.box_netns, self.root_link, self.gateway)

    def stop(self) -> dict[str, list]:
        """Tear everything down (idempotent); returns what was removed."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            self.hosts.clear()
            self.bridges.clear()
            return purge(self.box_id)

    def _loop(self) -> None:
        while not self._stop.wait(RECONCILE_PERIOD):
            self.reconcile()

    # -- reconcile -----------------------------------------------------------------------
    def reconcile(self) -> None:
        """Make the hosts match the cloud; an error is kept in `last_error`, logged."""
        with self._lock:
            if self._stop.is_set():
                return
            try:
                self._reconcile(read(self.cloud, self.sync, self.external_network))
                self.last_error = None
            except (machines.MachineError, OSError) as exc:
                if str(exc) != self.last_error:  # said once, not every half second
                    print(f"osbox {self.box_id}: {exc}", file=sys.stderr, flush=True)
                self.last_error = str(exc)

    def _reconcile(self, view: CloudView) -> None:
        desired = view.servers
        for server_id in [s for s, host in self.hosts.items() if s not in desired
                          or host.spec.identity != desired[s].identity]:
            self._remove(server_id)
        for stale in [p for p in machines.listdir(self.dir / "homes")
                      if p not in view.existing]:
            shutil.rmtree(self.home(stale), ignore_errors=True)  # the server was deleted
        wanted = {nic.network_id for spec in desired.values() for nic in spec.nics}
        unused = [self.bridges.pop(n) for n in list(self.bridges) if n not in wanted]
        if unused:
            network.delete_links(self.box_netns, unused)
        for network_id in sorted(wanted - set(self.bridges)):
            bridge = f"t{next(self._names)}"
            network.create_bridge(self.box_netns, bridge)
            self.bridges[network_id] = bridge
        fresh = [spec for server_id, spec in desired.items() if server_id not in self.hosts]
        if fresh:  # host creation waits on processes: a few at once
            with ThreadPoolExecutor(CREATE_WORKERS, thread_name_prefix="osbox-host") as pool:
                jobs = [pool.submit(self._create, spec, next(self._names)) for spec in fresh]
                for job in jobs:
                    job.result()
        for server_id, host in self.hosts.items():
            host.spec = desired[server_id]
            if host.floating != host.spec.floating:
                self._place_floating(host)

    def _create(self, spec: ServerSpec, number: int) -> None:
        netns = f"{self.prefix}{spec.id}"
        files = self._files(netns)
        hosts.remove(netns, files)  # a leftover of an interrupted creation
        hosts.create_namespaces(netns, hostname(spec.name))
        network.create_nics(self.box_netns, netns,
                            [(nic, f"s{number}n{index}", self.bridges[nic.network_id])
                             for index, nic in enumerate(spec.nics)], spec.name)
        # the replacement of a deleted server may get its address: say so to the others
        arp.announce(netns, [(f"eth{index}", nic.mac, nic.address.split("/")[0])
                             for index, nic in enumerate(spec.nics)])
        user = spec.user if spec.user in self.uids else "root"
        hosts.prepare_files(files, root_keys=spec.keys if user == "root" else [],
                            environment=None)
        (files.upper / "hosts").write_text(
            f"{LOCAL_HOSTS}127.0.1.1 {hostname(spec.name)}\n")
        home = self.home(spec.id)
        home.mkdir(parents=True, exist_ok=True, mode=0o755)
        if user != "root" and not (home / user).exists():  # keys injected at first boot
            write_home(home / user, self.uids[user], spec.keys)
        hosts.start_sshd(netns, files, self._shared(spec.id), allow_users=[user])
        if not hosts.wait_listening(netns):
            log = machines.tail(files.log)
            hosts.remove(netns, files)  # the next reconcile tries again
            raise machines.MachineError(f"the sshd of server {spec.name} did not start",
                                        hint=log)
        self.hosts[spec.id] = ServerHost(spec, netns, user)

    def _place_floating(self, host: ServerHost) -> None:
        if host.floating_veth is not None:
            network.delete_links(self.box_netns, [host.floating_veth])
            host.floating = host.floating_veth = None
        if host.spec.floating is not None:
            veth = f"f{next(self._names)}"
            network.attach_floating(self.box_netns, host.netns, veth, host.spec.floating)
            host.floating, host.floating_veth = host.spec.floating, veth

    def _remove(self, server_id: str) -> None:
        host = self.hosts.pop(server_id)
        if host.floating_veth is not None:
            with contextlib.suppress(machines.MachineError):  # gone with its namespace
                network.delete_links(self.box_netns, [host.floating_veth])
        hosts.remove(host.netns, self._files(host.netns))

    def view(self) -> dict[str, Any]:
        """JSON view: the external network, every server host."""
        with self._lock:
            servers = [{
                "id": server_id, "name": host.spec.name, "netns": host.netns,
                "user": host.user, "addresses": [nic.address for nic in host.spec.nics],
                "floating": host.floating,
            } for server_id, host in sorted(self.hosts.items())]
            return {"box_id": self.box_id, "netns": self.box_netns,
                    "gateway": self.gateway, "bridges": dict(self.bridges),
                    "last_error": self.last_error, "hosts": servers}


def hostname(name: str) -> str:
    """A server name as a host name (what cloud-init does with it, roughly)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", name)[:63].strip("-") or "server"


def purge(box_id: str) -> dict[str, list]:
    """Remove every namespace, interface, process and file of box `box_id` (a box killed
    with SIGKILL included)."""
    prefix = f"{PREFIX}-{box_id}-"
    found = machines.purge(prefix, f"ob{box_id}", hosts.UTS_DIR)
    directory = BOX_ROOT / f"{prefix}box"
    found["files"] = [str(directory)] if directory.exists() else []
    shutil.rmtree(directory, ignore_errors=True)
    return found
