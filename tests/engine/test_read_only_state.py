"""A read-only state directory (issue 17, item 8): `plan --no-lock` works, other commands
name the path and the reason, never an "unexpected internal error". The directory is
made read-only by a bind mount in a private mount namespace (`unshare -m`), so nothing
outside the test's process sees it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.engine.conftest import REPO, FakeStack

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="needs root and unshare for a private mount")


def run_read_only(stack: FakeStack, *args: str) -> subprocess.CompletedProcess[str]:
    directory = str(stack.state_dir)
    cli = " ".join([sys.executable, "-m", "tests.fakecloud_cli", "-c", str(stack.file),
                    *args])
    script = (f"mount --bind {directory} {directory} && "
              f"mount -o remount,ro,bind {directory} && exec {cli}")
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_plan_reads_a_state_it_cannot_write(stack: FakeStack) -> None:
    stack.write(servers=[{"name": "web", "count": 2}]).apply()
    plan = run_read_only(stack, "plan", "--no-lock")
    assert plan.returncode == 0, plan.stderr
    assert "No changes." in plan.stdout
    for command in (["plan"], ["apply", "--auto-approve"], ["destroy", "--auto-approve"]):
        locked = run_read_only(stack, *command)
        assert locked.returncode == 1, (command, locked.stdout, locked.stderr)
        assert "Read-only file system" in locked.stderr, locked.stderr
        assert str(stack.state_dir) in locked.stderr
        assert "internal error" not in locked.stderr and "Traceback" not in locked.stderr
        assert "--no-lock" in locked.stderr
    assert len(stack.owned()) == 2        # nothing was touched
