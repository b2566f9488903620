"""Chaos on the local provider (root): SIGKILL an apply (the CLI and the `ip`/`nsenter`
it runs) at a random moment, possibly break something from outside (kill an sshd,
delete a namespace, delete a bridge), then apply again and check convergence: exactly
the namespaces, links and sshd processes the state records, every record ready, a
no-op next apply; destroy leaves nothing carrying the stack's id.

Ranges 198.18.140.0/24 to 198.18.149.0/24 only (other tests use other ranges).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time

import pytest

from tests.chaos.conftest import (
    NO_CHANGES,
    SEEDS,
    apply_until_converged,
    assert_state_valid,
    double_sigint,
    kill_after,
    run,
    spawn,
    wait_for_line,
)
from tests.local.conftest import LocalStack, root_only

pytestmark = [pytest.mark.root, root_only]


def assert_converged(stack: LocalStack, context: str) -> None:
    assert_state_valid(stack.state_dir, context)
    stack.assert_matches_state(context)
    again = run(stack.file, "apply", "--auto-approve")
    assert again.returncode == 0 and NO_CHANGES in again.stdout, f"{context}:\n{again.stdout}"


def destroy(stack: LocalStack, context: str) -> None:
    result = run(stack.file, "destroy", "--auto-approve")
    assert result.returncode == 0, f"{context}: destroy\n{result.stdout}"
    assert not any(stack.leftovers().values()), f"{context}: {stack.leftovers()}"
    assert not stack.state().resources, context


def break_from_outside(stack: LocalStack, rng: random.Random) -> str:
    records = list(stack.state().resources.values())
    choices = [r for r in records if r.status == "ready"
               and r.kind in ("local_sshd", "local_host", "local_bridge")]
    if not choices:
        return "nothing to break yet"
    record = rng.choice(choices)
    if record.kind == "local_sshd" and record.attributes.get("pid"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.attributes["pid"], signal.SIGKILL)
    elif record.kind == "local_host":
        subprocess.run(["ip", "netns", "delete", record.inputs["netns"]], check=False,
                       capture_output=True)
    elif record.kind == "local_bridge":
        subprocess.run(["ip", "link", "delete", record.inputs["ifname"]], check=False,
                       capture_output=True)
    return f"broke {record.address}"


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_then_apply_converges(local_stack, seed: int) -> None:
    rng = random.Random(seed)
    stack = local_stack("chaos").write(
        [{"roles": ["server"], "number": rng.randint(1, 3)},
         {"roles": ["client"], "number": rng.randint(1, 2)}],
        [{"id": "lan", "cidr": "198.18.140.0/24"},
         {"id": "admin", "cidr": "198.18.141.0/24"}])
    delay = rng.uniform(0.3, 2.0)
    kill_after(spawn(stack.file, "apply", "--auto-approve"), delay)
    fault = break_from_outside(stack, rng) if rng.random() < 0.5 else "no fault"
    context = f"local chaos seed {seed} (SIGKILL after {delay:.2f} s, {fault})"
    apply_until_converged(stack.file, context, attempts=2)
    assert_converged(stack, context)
    if rng.random() < 0.5:   # a destroy killed half-way must also converge
        kill_after(spawn(stack.file, "destroy", "--auto-approve"), rng.uniform(0.3, 1.0))
    destroy(stack, context)


def test_sigint_twice_exits_130_then_apply_converges(local_stack) -> None:
    stack = local_stack("sigint").write(
        [{"roles": ["node"], "number": 3}], [{"id": "lan", "cidr": "198.18.142.0/24"}])
    double_sigint(stack.file)
    apply_until_converged(stack.file, "local after SIGINT x2", attempts=1)
    assert_converged(stack, "local after SIGINT x2")
    destroy(stack, "local after SIGINT x2")


def test_concurrent_applies_one_fails_fast_naming_the_holder(local_stack) -> None:
    stack = local_stack("lock").write(
        [{"roles": ["node"], "number": 3}], [{"id": "lan", "cidr": "198.18.143.0/24"}])
    first = spawn(stack.file, "apply", "--auto-approve")
    wait_for_line(first, "Creating...")        # it holds the lock now
    os.kill(first.pid, signal.SIGSTOP)          # and keeps it, however fast it would be
    try:
        started = time.monotonic()
        second = run(stack.file, "apply", "--auto-approve", timeout=30)
        fast = time.monotonic() - started
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out
    assert second.returncode == 1 and f"pid {first.pid}" in second.stdout, second.stdout
    assert fast < 5
    assert_converged(stack, "local concurrent applies")
    destroy(stack, "local concurrent applies")


def test_ctrl_c_to_the_process_group_is_an_interruption(local_stack) -> None:
    """A terminal's Ctrl-C reaches the whole foreground group (issue 17, item 6): the
    commands bedform runs (ip, sshd) live in sessions of their own, so the run reports
    an interruption, not their failures, and says what to run next."""
    stack = local_stack("group-sigint").write(
        [{"roles": ["node"], "number": 6}], [{"id": "lan", "cidr": "198.18.144.0/24"}])
    proc = spawn(stack.file, "apply", "--auto-approve")
    lines = wait_for_line(proc, "Creating...")
    os.killpg(proc.pid, signal.SIGINT)            # what the terminal does
    out, _ = proc.communicate(timeout=60)
    text = "".join(lines) + out
    if proc.returncode == 0:                      # it finished before the signal landed
        assert "Apply complete!" in text
    else:
        assert proc.returncode == 1, text
        assert "apply interrupted" in text and "bedform apply" in text, text
        assert "failed:" not in text and "internal error" not in text, text
    apply_until_converged(stack.file, "local after a group Ctrl-C", attempts=1)
    assert_converged(stack, "local after a group Ctrl-C")
    destroy(stack, "local after a group Ctrl-C")
