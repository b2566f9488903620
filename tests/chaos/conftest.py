"""Shared pieces of the chaos suite: seeds, subprocess CLI runs, signals.

`BEDFORM_CHAOS_N` (default 3) is the number of random seeds per provider;
`BEDFORM_CHAOS_SEED` fixes the first one (default: random, printed on failure), so a
failure is replayed with `BEDFORM_CHAOS_SEED=<seed> BEDFORM_CHAOS_N=1`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.local.conftest import local_stack  # noqa: F401  (the leak-checked fixture)

REPO = Path(__file__).resolve().parents[2]
N = max(1, int(os.environ.get("BEDFORM_CHAOS_N", "3")))
BASE_SEED = int(os.environ.get("BEDFORM_CHAOS_SEED", random.SystemRandom().randrange(10**6)))
SEEDS = [BASE_SEED + i for i in range(N)]
NO_CHANGES = "No changes."


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bedform.cli", "-c", str(config), *args]


def spawn(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The CLI in a subprocess, in its own process group, output unbuffered."""
    return subprocess.Popen(command(config, *args), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONPATH": str(REPO),
                                 "PYTHONUNBUFFERED": "1", **(env or {})})


def run(config: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    proc = spawn(config, *args, env=env)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"bedform {' '.join(args)} hung for {timeout} s:\n{out}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def kill_after(proc: subprocess.Popen, delay: float) -> str:
    """SIGKILL the whole process group after `delay` seconds (or at its end)."""
    try:
        out, _ = proc.communicate(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out or ""


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 60) -> list[str]:
    """Read the output until a line containing `needle`; returns the lines read."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"never printed {needle!r}:\n{''.join(lines)}")


def apply_until_converged(config: Path, context: str, env: dict[str, str] | None = None,
                          attempts: int = 3) -> subprocess.CompletedProcess:
    """`apply` again; a fault may legitimately leave a job in error or a node KO, which
    the next apply repairs, so retry a bounded number of times."""
    outputs = []
    for _ in range(attempts):
        result = run(config, "apply", "--auto-approve", env=env)
        if result.returncode == 0:
            return result
        outputs.append(result.stdout)
    raise AssertionError(f"{context}: apply did not converge in {attempts} attempts:\n"
                         + "\n----\n".join(outputs))


def state_doc(state_dir: Path) -> dict:
    return json.loads((state_dir / "state.json").read_text())


def assert_state_valid(state_dir: Path, context: str) -> dict:
    """Every record is `ready`, and its dependencies are records too."""
    doc = state_doc(state_dir)
    resources = doc["resources"]
    assert resources, f"{context}: empty state"
    for address, record in resources.items():
        assert record["status"] == "ready", f"{context}: {address} is {record['status']}"
        for dep in record.get("dependencies", []):
            assert dep in resources, f"{context}: {address} depends on missing {dep}"
    return doc


def double_sigint(config: Path, env: dict[str, str] | None = None,
                  attempts: int = 5) -> str:
    """Ctrl-C an apply once it has started an operation, and again as soon as it has
    acknowledged the first; asserts the second exits at once with 130 (or death by
    SIGINT, which a shell also shows as 130). If the apply had already finished its
    graceful stop before the second signal landed (exit 1, 'apply interrupted'), the
    race was lost, not the test: the apply is resumed and the scenario tried again."""
    for _ in range(attempts):
        proc = spawn(config, "apply", "--auto-approve", env=env)
        lines = wait_for_line(proc, "Creating...")
        proc.send_signal(signal.SIGINT)
        try:
            lines += wait_for_line(proc, "Interrupt received", timeout=10)
        except AssertionError:
            proc.wait()
            continue       # it finished before the signal: try again
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, _ = proc.communicate(timeout=10)
        text = "".join(lines) + out
        if proc.returncode == 1 and "apply interrupted" in text:
            continue       # the graceful stop won the race
        assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, text)
        assert time.monotonic() - started < 2, "the second Ctrl-C did not exit at once"
        return text
    raise AssertionError(f"no second-interrupt exit in {attempts} attempts")
