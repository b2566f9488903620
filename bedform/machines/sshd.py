"""OpenSSH servers inside a host's namespaces: configuration, start, readiness."""

from __future__ import annotations

import os
import shlex
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bedform.machines.commands import run, which
from bedform.machines.errors import MachineError


def sshd_config(*, addresses: Sequence[str], port: int, host_key: Path, pid_file: Path,
                authorized_keys: Path | str, extra: Sequence[str] = ()) -> str:
    """An sshd_config for key-only logins; `extra` lines are appended as they are."""
    lines = [
        "# Written by bedform; regenerated when its host is (re)created.",
        f"Port {port}",
        *(f"ListenAddress {address}" for address in addresses),
        f"HostKey {host_key}",
        f"PidFile {pid_file}",
        f"AuthorizedKeysFile {authorized_keys}",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "MaxStartups 200:30:400",
        "MaxSessions 100",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp internal-sftp",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def start_sshd(config: Path, log: Path, netns: str, uts: str,
               prelude: Sequence[Sequence[str]] = ()) -> None:
    """Start a detached sshd (it forks into its own session) inside a host's namespaces;
    `prelude` commands run first in the same private mount namespace (e.g. mounts that
    only the host's sessions see)."""
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    sshd = which("sshd")
    if not sshd:
        raise MachineError("sshd not found",
                           hint="Install it: apt-get install openssh-server")
    # `ip netns exec` gives it a private mount namespace whose /sys is the host's own
    # sysfs, so that sessions (and Ansible facts) see the host's interfaces only, and
    # binds the files of /etc/netns/<netns>/ over those of /etc.
    # sshd runs as a child of `sh`, not in its place: a session leader whose parent is
    # PID 1 counts itself as already daemonized (OpenSSH's `daemonized()`) and stays in
    # the foreground, which would hang this call when bedform is PID 1 (a container,
    # scripts/isolated.sh).
    command = [sshd, "-f", str(config), "-E", str(log)]
    script = " && ".join(shlex.join(list(step)) for step in [*prelude, command])
    script += "; exit $?"  # a builtin last: no shell may exec sshd in its own place
    run([which("ip") or "ip", "netns", "exec", netns, which("nsenter") or "nsenter",
         f"--uts={uts}", "--", "/bin/sh", "-c", script],
        what=f"starting sshd in {netns}")


def wait_ssh(address: str, port: int, timeout: float,
             sleep: Callable[[float], None] = time.sleep) -> bool:
    """Poll until `address:port` answers with an SSH banner; False on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            with socket.create_connection((address, port), timeout=1.0) as conn:
                conn.settimeout(max(0.2, min(2.0, deadline - time.monotonic())))
                if conn.recv(8).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        sleep(delay)
        delay = min(delay * 1.5, 0.1)


def tail(path: Path, lines: int = 5) -> str:
    """The last `lines` lines of a log, "" when unreadable."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
