"""A box host: network + UTS namespaces, a private view of the file system and an sshd.

Every host's sshd starts in its own mount namespace (`ip netns exec`) where:
- /etc is an overlay: the box's common files (hosts, passwd, group: the emulated users)
  over this machine's /etc, with a per-host writable layer (dhclient's resolv.conf, the
  deployed environment's name in /etc/bedform-environment);
- /home is the box's shared home (the users' NFS home, with their authorized_keys);
- /root is the host's own root home (root's authorized_keys: the deployment key);
- /var/lib/dhcp is per host (dhclient's leases);
- /usr/local/bin shows `sudo-g5k` over this machine's programs.
Nothing of this leaks to this machine: the mounts live and die with the host's processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bedform import machines
from bedform.machines import netlink

UTS_DIR = "/run/bedform/uts"
SSH_PORT = 22
SSHD_READY_SECONDS = 10.0


@dataclass(frozen=True)
class HostFiles:
    """Where one host keeps its files, under the box directory."""

    root: Path

    @property
    def upper(self) -> Path:
        return self.root / "etc-upper"

    @property
    def work(self) -> Path:
        return self.root / "etc-work"

    @property
    def home_root(self) -> Path:
        return self.root / "root"

    @property
    def dhcp(self) -> Path:
        return self.root / "dhcp"

    @property
    def config(self) -> Path:
        return self.root / "sshd.conf"

    @property
    def pid_file(self) -> Path:
        return self.root / "sshd.pid"

    @property
    def log(self) -> Path:
        return self.root / "sshd.log"


@dataclass(frozen=True)
class Shared:
    """What every host of a box mounts: common /etc files, home, programs, host key."""

    etc: Path
    home: Path
    bin: Path
    host_key: Path


def uts_path(netns: str) -> str:
    return f"{UTS_DIR}/{netns}"


def create_namespaces(netns: str, hostname: str) -> None:
    """The host's network namespace (lo up) and UTS namespace holding `hostname`."""
    machines.ensure_netns_dir()
    netlink.setup_host(netns, uts_path(netns), hostname)


def prepare_files(files: HostFiles, *, root_keys: Sequence[str],
                  environment: str | None) -> None:
    """A fresh per-host file tree: root's authorized_keys, the environment marker."""
    if files.root.exists():
        shutil.rmtree(files.root)
    for directory in (files.upper, files.work, files.dhcp):
        directory.mkdir(parents=True, mode=0o755)
    machines.write_file(files.home_root / ".ssh" / "authorized_keys",
                        "".join(f"{key.strip()}\n" for key in root_keys), 0o600)
    os.chmod(files.home_root, 0o700)
    if environment is not None:
        (files.upper / "bedform-environment").write_text(f"{environment}\n")


def start_sshd(netns: str, files: HostFiles, shared: Shared, *,
               addresses: Sequence[str] = ("0.0.0.0",),
               allow_users: Sequence[str] = ()) -> None:
    """Write the host's sshd_config and start sshd behind the host's private mounts;
    `allow_users` restricts who may log in (default: every account)."""
    extra = ["AllowTcpForwarding yes", "PermitTTY yes"]
    if allow_users:
        extra.append(f"AllowUsers {' '.join(allow_users)}")
    text = machines.sshd_config(
        addresses=addresses, port=SSH_PORT, host_key=shared.host_key,
        pid_file=files.pid_file, authorized_keys=".ssh/authorized_keys", extra=extra)
    machines.write_file(files.config, text, 0o644)
    machines.remove_file(files.pid_file)
    prelude = [
        ["mount", "-t", "overlay", "bedform-etc", "-o",
         f"lowerdir={shared.etc}:/etc,upperdir={files.upper},workdir={files.work}", "/etc"],
        ["mount", "-t", "overlay", "bedform-bin", "-o",
         f"lowerdir={shared.bin}:/usr/local/bin", "/usr/local/bin"],
        ["mount", "--bind", str(shared.home), "/home"],
        ["mount", "--bind", str(files.home_root), "/root"],
        ["mount", "--bind", str(files.dhcp), "/var/lib/dhcp"],
    ]
    machines.start_sshd(files.config, files.log, netns, uts_path(netns), prelude=prelude)


def wait_listening(netns: str, timeout: float = SSHD_READY_SECONDS) -> bool:
    """Whether the host's sshd listens on port 22 within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        _, nets, _ = netlink.observe([netns], listening=True)
        snapshot = nets.get(netns)
        if snapshot is not None and any(port == SSH_PORT for _, port in snapshot.listening):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def stop_processes(netns: str) -> None:
    """Kill every process of the host (sshd, sessions, dhclient): it stops answering."""
    inode = machines.ns_inode(netlink.netns_path(netns))
    if inode is not None and os.path.ismount(netlink.netns_path(netns)):
        machines.kill_all(machines.pids_in_netns(inode))


def remove(netns: str, files: HostFiles) -> None:
    """Stop the host and remove its namespaces and files (its veths go with them)."""
    stop_processes(netns)
    machines.delete_uts(uts_path(netns))
    machines.delete_netns(netns)
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(files.root)
