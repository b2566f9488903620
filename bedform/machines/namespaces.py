"""Persistent network and UTS namespaces of this machine (files bind-mounted under
/run/netns and a UTS directory), created by `netlink.setup_host` and removed here.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading

from bedform.machines import netlink
from bedform.machines.commands import run, which
from bedform.machines.errors import MachineError
from bedform.machines.files import remove_file

MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def umount(path: str) -> None:
    """Detach a bind mount (a namespace file); not mounted counts as done."""
    if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise MachineError(f"umount {path} failed: {os.strerror(err)}")


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
    """Unmount and remove a named network namespace; absent counts as done."""
    path = netlink.netns_path(name)
    umount(path)
    remove_file(path)


def delete_uts(path: str) -> None:
    """Unmount and remove a persistent UTS namespace file."""
    umount(path)
    remove_file(path)


def ns_inode(path: str) -> int | None:
    """The inode of a namespace file, None when absent."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
