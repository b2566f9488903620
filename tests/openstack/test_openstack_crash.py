"""Crash safety and faults: an apply SIGKILLed after a server POST leaves a pending
record the next apply adopts (no duplicate); quota and ERROR faults end in errors
naming the server and the quota, and the next apply completes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bedform.errors import StateError
from tests.openstack.conftest import OpenstackStack, connection, prepare, section

REPO = Path(__file__).resolve().parents[2]


def test_sigkill_after_server_post_adopts_it(openstack_emulator_factory, tmp_path,
                                             monkeypatch):
    emu = prepare(openstack_emulator_factory(build_seconds=3600.0), tmp_path, monkeypatch)
    stack = OpenstackStack(tmp_path / "stack", emu).write(**section(servers=1))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", "from bedform.cli import main; main()",
                             "-c", str(stack.file), "apply", "--auto-approve"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    server_id = None
    try:
        while time.time() < deadline and server_id is None:
            time.sleep(0.2)
            with contextlib.suppress(StateError, KeyError):
                record = stack.state().resources["os.server[1-0]"]
                server_id = record.attributes.get("id")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert server_id is not None, "the server id was never checkpointed"
    assert stack.state().resources["os.server[1-0]"].status == "pending_create"
    plan = stack.run("plan")
    assert "adopt" in plan.output, plan.output
    emu.advance(3600)                                      # the builds end
    stack.apply()
    posts = [r for r in emu.requests()
             if r["method"] == "POST" and r["path"] == "/compute/v2.1/servers"]
    assert len(posts) == 2                                  # one per server, ever
    conn = connection(emu)
    assert sorted(s.name for s in conn.compute.servers()) == ["osexp-0-0", "osexp-1-0"]
    record = stack.state().resources["os.server[1-0]"]
    assert record.attributes["id"] == server_id and record.status == "ready"


def test_quota_fault_names_the_server_and_the_quota(stack):
    stack.emu.set_quotas(instances=2)
    stack.write(**section())
    result = stack.run("apply", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "os.server[1-" in result.output
    assert "Quota exceeded for instances" in result.output, result.output
    assert "quota" in result.output.split("Quota exceeded")[1].lower()
    conn = connection(stack.emu)
    assert len(list(conn.compute.servers())) == 2
    stack.emu.set_quotas(instances=10)
    stack.apply()
    assert len(list(conn.compute.servers())) == 4


def test_error_fault_names_the_server_and_next_apply_rebuilds_it(stack):
    stack.emu.add_fault(kind="server_error", name="^osexp-1-1$", count=1,
                        message="No valid host was found. There are not enough hosts")
    stack.write(**section())
    result = stack.run("apply", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "server osexp-1-1" in result.output and "went into ERROR" in result.output
    assert "No valid host was found" in result.output
    plan = stack.run("plan")
    assert "os.server[1-1]" in plan.output
    stack.apply()
    conn = connection(stack.emu)
    servers = list(conn.compute.servers())
    assert sorted(s.name for s in servers) == ["osexp-0-0", "osexp-1-0", "osexp-1-1",
                                                "osexp-1-2"]
    assert {s.status for s in servers} == {"ACTIVE"}
