"""The stack lock: `fcntl.flock` on `state.lock`, the holder's info in `state.lock.json`.

The kernel releases a flock when its holder dies, so a crashed run never leaves the
stack locked. The info file tells a second run who holds the lock; `force_unlock`
breaks a lock whose holder is stuck (or on a file system where flock is unreliable) by
replacing the lock file, after which the old holder no longer excludes anyone.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

from bedform.errors import StateError, StateLockedError

LOCK_NAME = "state.lock"
INFO_NAME = "state.lock.json"


def read_lock_info(directory: Path) -> dict[str, Any]:
    """The info of the current holder, or {} when there is none or it is unreadable."""
    try:
        return json.loads((Path(directory) / INFO_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def describe_holder(info: dict[str, Any]) -> str:
    """One line naming a lock holder."""
    if not info:
        return "another bedform process (no lock info recorded)"
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("created", 0)))
    return (f"{info.get('who', '?')} (pid {info.get('pid', '?')} on {info.get('host', '?')}), "
            f"running {info.get('operation', '?')!r} since {created}, lock ID {info.get('id')}")


class StateLock:
    """Context manager holding the lock of a state directory."""

    def __init__(self, directory: Path, operation: str, timeout: float = 0.0) -> None:
        self.directory = Path(directory)
        self.operation = operation
        self.timeout = timeout
        self.id = str(uuid.uuid4())
        self._fd: int | None = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, waiting up to `timeout` seconds (back-off 0.1 s to 2 s)."""
        deadline = time.monotonic() + self.timeout
        delay = 0.1
        while True:
            fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    info = read_lock_info(self.directory)
                    raise StateLockedError(
                        f"the state in {self.directory} is locked by {describe_holder(info)}",
                        info,
                        hint="Wait for it to finish, pass --lock-timeout SECONDS to wait, or, "
                        "if that process is stuck, run `bedform force-unlock "
                        f"{info.get('id', 'ID')}`.",
                    ) from None
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 2.0)
                continue
            if self._same_file(fd):
                break
            os.close(fd)  # force-unlock replaced the file meanwhile: lock the new one
        self._fd = fd
        info = {"id": self.id, "operation": self.operation,
                "who": f"{getpass.getuser()}@{socket.gethostname()}", "pid": os.getpid(),
                "host": socket.gethostname(), "created": time.time(),
                "path": str(self.directory)}
        (self.directory / INFO_NAME).write_text(json.dumps(info), encoding="utf-8")

    def _same_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.directory / LOCK_NAME).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Drop the lock (and its info, if it is still ours)."""
        if self._fd is None:
            return
        if read_lock_info(self.directory).get("id") == self.id:
            (self.directory / INFO_NAME).unlink(missing_ok=True)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def force_unlock(directory: Path, lock_id: str) -> dict[str, Any]:
    """Break the lock whose ID is `lock_id`; returns the info of the broken lock."""
    directory = Path(directory)
    info = read_lock_info(directory)
    if not info:
        raise StateError(f"the state in {directory} is not locked",
                         hint="Nothing to unlock.")
    if info.get("id") != lock_id:
        raise StateError(f"lock ID {lock_id!r} does not match the current lock "
                         f"({describe_holder(info)})",
                         hint="Pass the ID printed in the lock error.")
    (directory / LOCK_NAME).unlink(missing_ok=True)
    (directory / INFO_NAME).unlink(missing_ok=True)
    return info
