"""Low-level Linux operations of the `local` provider: namespaces, links, sshd, keys.

Mutations go through `ip` (one `ip -batch -` per namespace touched), `unshare`/`nsenter`
(util-linux) and OpenSSH; reads go through `netlink` (in-process, no subprocess).
Every function is idempotent: "ensure present" / "ensure absent".
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from bedform.errors import ProviderError
from bedform.providers.local import netlink
from bedform.providers.local.layout import UTS_DIR, ifname_prefix, netns_prefix

SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


@functools.lru_cache(maxsize=64)
def which(program: str) -> str | None:
    """`program` on PATH or in the sbin directories (often off a user's PATH); cached."""
    found = shutil.which(program)
    if found:
        return found
    for directory in SBIN_DIRS:
        candidate = os.path.join(directory, program)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def run(args: Sequence[str], *, input: str | None = None, what: str = "") -> str:
    """Run a command; ProviderError with its stderr when it fails."""
    try:
        proc = subprocess.run(list(args), input=input, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:
        raise ProviderError(f"{args[0]} not found",
                            hint="Install it: apt-get install iproute2 openssh-server") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise ProviderError(f"{what or args[0]} failed: {detail}",
                            hint=f"command: {' '.join(args)}"
                                 + (f"\ninput:\n{input}" if input else ""))
    return proc.stdout


def ip_batch(commands: Iterable[str], netns: str | None = None, what: str = "") -> None:
    """Run `ip` commands in one process (`ip [-n NS] -batch -`)."""
    lines = [c for c in commands if c]
    if not lines:
        return
    args = [which("ip") or "ip"]
    if netns:
        args += ["-n", netns]
    run([*args, "-batch", "-"], input="\n".join(lines) + "\n", what=what or "ip")


# -- namespaces ---------------------------------------------------------------------------

def umount(path: str) -> None:
    """Detach a bind mount (a namespace file); not mounted counts as done."""
    if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise ProviderError(f"umount {path} failed: {os.strerror(err)}")


def remove_file(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


_netns_dir_lock = threading.Lock()


def ensure_netns_dir() -> None:
    """/run/netns set up as `ip netns add` leaves it (a shared mount), once per boot.

    Namespace files are bind mounts inside it; `ip` makes it a shared mount so they
    propagate to every mount namespace. Done here by `ip` itself, on a throw-away name.
    """
    _remove_stale_init_namespaces()
    if os.path.ismount(netlink.NETNS_RUN_DIR):
        return
    with _netns_dir_lock:
        if os.path.ismount(netlink.NETNS_RUN_DIR):
            return
        name = f"{_INIT_PREFIX}{os.getpid()}"
        ip = which("ip") or "ip"
        run([ip, "netns", "add", name], what="preparing /run/netns")
        run([ip, "netns", "del", name], what="preparing /run/netns")


_INIT_PREFIX = "bedform-init-"


def _remove_stale_init_namespaces() -> None:
    """Throw-away namespaces of runs killed between their `add` and `del`."""
    try:
        names = os.listdir(netlink.NETNS_RUN_DIR)
    except OSError:
        return
    for name in names:
        pid = name.removeprefix(_INIT_PREFIX)
        if name.startswith(_INIT_PREFIX) and pid.isdigit() and \
                not os.path.exists(f"/proc/{pid}"):
            delete_netns(name)


def delete_netns(name: str) -> None:
    path = netlink.netns_path(name)
    umount(path)
    remove_file(path)


def delete_uts(path: str) -> None:
    umount(path)
    remove_file(path)


def ns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def pids_in_netns(inode: int) -> list[int]:
    """Processes whose network namespace has this inode."""
    target = f"net:[{inode}]"
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/ns/net") == target:
                out.append(int(entry.name))
        except OSError:
            continue
    return out


def kill_all(pids: Iterable[int], timeout: float = 2.0) -> None:
    """SIGKILL and wait until each is gone (a zombie counts as gone)."""
    pids = [p for p in pids if p != os.getpid()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if is_running(p)]
        if pids:
            time.sleep(0.005)


# -- processes ----------------------------------------------------------------------------

def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def is_running(pid: int) -> bool:
    """Alive and not a zombie (PID 1 of a container may never reap our daemons)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def read_pid(path: str | Path) -> int | None:
    try:
        text = Path(path).read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def process_netns_inode(pid: int) -> int | None:
    try:
        link = os.readlink(f"/proc/{pid}/ns/net")
        return int(link[link.index("[") + 1 : -1])
    except (OSError, ValueError):
        return None


def stop_process(pid: int, marker: str, timeout: float = 3.0) -> None:
    """Stop `pid` if it still runs a command line holding `marker` (never a stranger)."""
    if not is_running(pid) or marker not in cmdline(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid):
            return
        time.sleep(0.005)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# -- ssh ----------------------------------------------------------------------------------

def private_dir(path: Path) -> None:
    """Create `path` and every missing parent as 0700 directories, whatever the umask."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        os.chmod(directory, 0o700)


def ensure_keypair(path: Path, comment: str) -> str:
    """An ed25519 key pair at `path` (0600) and `path`.pub; returns the public key."""
    private_dir(path.parent)
    pub = path.with_name(path.name + ".pub")
    keygen = which("ssh-keygen") or "ssh-keygen"
    if path.exists():
        try:
            public = run([keygen, "-y", "-f", str(path)], what="reading the ssh key")
        except ProviderError:
            remove_file(path)  # half-written by a killed run: start over
        else:
            os.chmod(path, 0o600)
            text = public.strip() + f" {comment}\n"
            if not pub.exists() or pub.read_text().split()[:2] != text.split()[:2]:
                _write(pub, text, 0o644)
            return pub.read_text().strip()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    remove_file(tmp)
    remove_file(tmp.with_name(tmp.name + ".pub"))
    run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(tmp)],
        what="generating an ssh key")
    os.chmod(tmp, 0o600)
    os.replace(tmp.with_name(tmp.name + ".pub"), pub)
    os.replace(tmp, path)
    return pub.read_text().strip()


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_file(path: Path, text: str, mode: int = 0o600) -> None:
    private_dir(path.parent)
    _write(path, text, mode)


def sshd_config(*, addresses: Sequence[str], port: int, host_key: Path, pid_file: Path,
                authorized_keys: Path) -> str:
    lines = [
        "# Written by bedform (local provider); regenerated on apply.",
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
    ]
    return "\n".join(lines) + "\n"


def start_sshd(config: Path, log: Path, netns: str, uts: str) -> None:
    """Start a detached sshd (it forks into its own session) inside a host's namespaces."""
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
    sshd = which("sshd")
    if not sshd:
        raise ProviderError("sshd not found",
                            hint="Install it: apt-get install openssh-server")
    # `ip netns exec` gives it a private mount namespace whose /sys is the host's own
    # sysfs, so that sessions (and Ansible facts) see the host's interfaces only.
    run([which("ip") or "ip", "netns", "exec", netns, which("nsenter") or "nsenter",
         f"--uts={uts}", "--", sshd, "-f", str(config), "-E", str(log)],
        what=f"starting sshd in {netns}")


def wait_ssh(address: str, port: int, timeout: float, sleep) -> bool:
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
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- leak detection and purge (tests, `bedform` recovery) ------------------------------

def leftovers(stack_id: str, prefix: str = "bf") -> dict[str, list]:
    """Everything on this machine that carries the stack's id, by type."""
    from bedform.providers.local.layout import short_id

    sid = short_id(stack_id)
    ns_prefix = netns_prefix(prefix, sid)
    if_prefix = ifname_prefix(sid)
    namespaces = sorted(n for n in _listdir(netlink.NETNS_RUN_DIR) if n.startswith(ns_prefix))
    uts = sorted(f"{UTS_DIR}/{n}" for n in _listdir(UTS_DIR) if n.startswith(ns_prefix))
    root, _, _ = netlink.observe(root=True)
    links = sorted(link.name for link in root.links.values() if link.name.startswith(if_prefix))
    processes = []
    inodes = {ns_inode(netlink.netns_path(n)) for n in namespaces} - {None}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == os.getpid() or not is_running(pid):
            continue
        if ns_prefix in cmdline(pid) or process_netns_inode(pid) in inodes:
            processes.append(pid)
    return {"namespaces": namespaces, "uts": uts, "links": links, "processes": processes}


def purge(stack_id: str, prefix: str = "bf") -> dict[str, list]:
    """Remove everything `leftovers` finds; returns what it found."""
    found = leftovers(stack_id, prefix)
    kill_all(found["processes"])
    for link in found["links"]:
        with contextlib.suppress(ProviderError):
            run([which("ip") or "ip", "link", "del", link])
    for name in found["namespaces"]:
        delete_netns(name)
    for path in found["uts"]:
        delete_uts(path)
    return found


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []
