"""Find and remove what a killed run left on this machine, by the prefix of its names.

Namespaces, UTS files, interfaces of the root namespace and processes (by command line
or by namespace) whose names start with a prefix that only one owner uses.
"""

from __future__ import annotations

import contextlib
import os

from bedform.machines import netlink
from bedform.machines.commands import run, which
from bedform.machines.errors import MachineError
from bedform.machines.namespaces import delete_netns, delete_uts, ns_inode
from bedform.machines.processes import cmdline, is_running, kill_all, process_netns_inode


def leftovers(ns_prefix: str, if_prefix: str, uts_dir: str) -> dict[str, list]:
    """Everything on this machine named with these prefixes, by type."""
    namespaces = sorted(n for n in listdir(netlink.NETNS_RUN_DIR) if n.startswith(ns_prefix))
    uts = sorted(f"{uts_dir}/{n}" for n in listdir(uts_dir) if n.startswith(ns_prefix))
    root, _, _ = netlink.observe(root=True)
    assert root is not None
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


def purge(ns_prefix: str, if_prefix: str, uts_dir: str) -> dict[str, list]:
    """Remove everything `leftovers` finds; returns what it found."""
    found = leftovers(ns_prefix, if_prefix, uts_dir)
    kill_all(found["processes"])
    for link in found["links"]:
        with contextlib.suppress(MachineError):
            run([which("ip") or "ip", "link", "del", link])
    for name in found["namespaces"]:
        delete_netns(name)
    for path in found["uts"]:
        delete_uts(path)
    return found


def listdir(path: str | os.PathLike[str]) -> list[str]:
    """Entries of a directory, [] when it does not exist."""
    try:
        return os.listdir(path)
    except OSError:
        return []
