"""Hosts on this machine: the testbed-independent layer under the `local` provider and the
emulators' boxes. Network and UTS namespaces, `ip -batch`, sshd, key pairs, processes and
in-process rtnetlink snapshots. It imports nothing else of bedform; its errors are
`MachineError`, which callers turn into their own.

The flat names below are the public API; each concept lives in its own module.
"""

from bedform.machines.commands import SBIN_DIRS, ip_batch, run, which
from bedform.machines.errors import MachineError
from bedform.machines.files import private_dir, remove_file, replace_file, write_file
from bedform.machines.keys import ensure_keypair
from bedform.machines.leftovers import leftovers, listdir, purge
from bedform.machines.namespaces import (
    delete_netns,
    delete_uts,
    ensure_netns_dir,
    ns_inode,
    umount,
)
from bedform.machines.processes import (
    cmdline,
    is_running,
    kill_all,
    pids_in_netns,
    process_netns_inode,
    read_pid,
    stop_process,
)
from bedform.machines.sshd import sshd_config, start_sshd, tail, wait_ssh

__all__ = [
    "SBIN_DIRS", "MachineError", "cmdline", "delete_netns", "delete_uts", "ensure_keypair",
    "ensure_netns_dir", "ip_batch", "is_running", "kill_all", "leftovers", "listdir",
    "ns_inode", "pids_in_netns", "private_dir", "process_netns_inode", "purge", "read_pid",
    "remove_file", "replace_file", "run", "sshd_config", "start_sshd", "stop_process",
    "tail", "umount", "wait_ssh", "which", "write_file",
]
