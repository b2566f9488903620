"""One stack under test, driven through the public CLI: in-process with click's runner
(fast), or in a subprocess of its own session (to be SIGKILLed with its children)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from click.testing import CliRunner

from bedform.cli import main
from bedform.conformance.harness import Harness, Size


@attrs.frozen
class CliRun:
    """The outcome of one CLI run."""

    args: tuple[str, ...]
    exit_code: int
    output: str

    def __str__(self) -> str:
        return f"bedform {' '.join(self.args)} exited {self.exit_code}:\n{self.output}"


class ConformanceStack:
    """A stack file of `harness`'s provider in `root`, named `name` (unique per test)."""

    def __init__(self, harness: Harness, root: Path, name: str) -> None:
        self.harness = harness
        self.root = root
        self.name = name
        self.file = root / "bedform.yaml"

    def write(self, size: Size = "small", changed: bool = False,
              slow: bool = False) -> ConformanceStack:
        """(Re)write the stack file."""
        self.file = self.harness.write_stack(self.root, self.name, size, changed=changed,
                                             slow=slow)
        return self

    # -- CLI ------------------------------------------------------------------------------
    def run(self, *args: str) -> CliRun:
        """The CLI in this process."""
        result = CliRunner().invoke(main, ["-c", str(self.file), *args],
                                    env=self.harness.environment(), catch_exceptions=False)
        return CliRun(args, result.exit_code, result.output)

    def ok(self, *args: str) -> CliRun:
        """The CLI in this process; asserts it succeeded."""
        result = self.run(*args)
        assert result.exit_code == 0, str(result)
        return result

    def apply(self) -> CliRun:
        """`apply --auto-approve`, asserting success."""
        return self.ok("apply", "--auto-approve")

    def destroy(self) -> CliRun:
        """`destroy --auto-approve`, asserting success."""
        return self.ok("destroy", "--auto-approve")

    def plan(self) -> dict[str, Any]:
        """`plan --json`: the documented plan document."""
        return json.loads(self.ok("plan", "--json").output)

    def state(self) -> dict[str, Any]:
        """`show --json`: the state document."""
        return json.loads(self.ok("show", "--json").output)

    def spawn(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """The CLI in a subprocess, leader of its own session (see `run_killed`), its
        output in `log` (a file never fills up and blocks the run, a pipe may)."""
        with open(log, "wb") as output:
            return subprocess.Popen(
                [*self.harness.cli_command(), "-c", str(self.file), *args],
                cwd=self.root, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.harness.environment()})

    def run_killed(self, args: tuple[str, ...], progress: Callable[[], int], target: int,
                   jitter: float, timeout: float) -> bool:
        """Run the CLI in a subprocess and SIGKILL its whole session once `progress()`
        has moved `target` units from where it started (plus `jitter` seconds), or when
        `timeout` seconds passed; True when it was still running when killed."""
        start = progress()
        process = self.spawn(*args, log=self.root / "killed-run.log")
        deadline = time.monotonic() + timeout
        while (process.poll() is None and abs(progress() - start) < target
               and time.monotonic() < deadline):
            time.sleep(0.01)
        time.sleep(jitter)
        running = process.poll() is None
        if running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        return running

    def lock_holders(self) -> dict[int, str]:
        """Processes with the state lock open (pid -> command line), from /proc."""
        lock = (self.root / ".bedform" / "state.lock").resolve()
        holders = {}
        for entry in Path("/proc").glob("[0-9]*/fd/*"):
            with contextlib.suppress(OSError):
                if Path(os.readlink(entry)) == lock:
                    pid = int(entry.parts[2])
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                    holders[pid] = command.replace(b"\0", b" ").decode(errors="replace")
        return holders

    # -- views ----------------------------------------------------------------------------
    def inventory(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """`output --format json`: host alias -> address, and role -> host aliases."""
        document = json.loads(self.ok("output", "--format", "json").output)
        hosts = {alias: host["address"] for alias, host in document["hosts"].items()}
        return hosts, {role: sorted(aliases) for role, aliases in document["roles"].items()}

    def owned(self) -> dict[str, list[str]]:
        """Live remote objects of this stack, listed on the testbed."""
        return {key: sorted(ids) for key, ids in self.harness.owned(self).items() if ids}

    def recorded(self) -> dict[str, str]:
        """Keys of the remote objects the state records -> their addresses."""
        return self.harness.recorded(self.state())

    def incarnations(self) -> dict[str, str]:
        """Address -> the remote ids of the objects it records: what changes when an
        object is created again."""
        owned = self.owned()
        out: dict[str, list[str]] = {}
        for key, address in self.recorded().items():
            out.setdefault(address, []).append(f"{key}={','.join(owned.get(key, []))}")
        return {address: " ".join(sorted(ids)) for address, ids in out.items()}
