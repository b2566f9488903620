"""Running programs of this machine: lookup in the sbin directories, `ip -batch`."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence

from bedform.machines.errors import MachineError

SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")


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
    """Run a command; MachineError with its stderr when it fails.

    The command runs in a session of its own: a Ctrl-C in the terminal (SIGINT to the
    foreground process group) reaches bedform, which stops cleanly, and not the short
    command it is waiting for, whose failure would hide the interruption."""
    try:
        proc = subprocess.run(list(args), input=input, capture_output=True, text=True,
                              check=False, start_new_session=True)
    except FileNotFoundError:
        raise MachineError(f"{args[0]} not found",
                           hint="Install it: apt-get install iproute2 openssh-server") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise MachineError(f"{what or args[0]} failed: {detail}",
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
