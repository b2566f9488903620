"""Processes of this machine: liveness, pid files, stopping only what we started."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path


def cmdline(pid: int) -> str:
    """The command line of `pid`, arguments joined by spaces ("" when it is gone)."""
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
    """The pid a pid file holds, None when absent or unreadable."""
    try:
        text = Path(path).read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def process_netns_inode(pid: int) -> int | None:
    """The inode of the network namespace `pid` runs in."""
    try:
        link = os.readlink(f"/proc/{pid}/ns/net")
        return int(link[link.index("[") + 1 : -1])
    except (OSError, ValueError):
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
