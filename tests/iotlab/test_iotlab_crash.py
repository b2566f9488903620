"""Crash safety: an apply SIGKILLed right after the submission leaves a pending record
that the next apply adopts (exactly one experiment); a failed flash names the boards."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bedform.errors import StateError
from tests.iotlab.conftest import IotlabStack, section

REPO = Path(__file__).resolve().parents[2]


def test_sigkill_after_submit_adopts_the_experiment(iotlab_emulator_factory, tmp_path,
                                                     monkeypatch):
    emu = iotlab_emulator_factory(epoch=None, speed=0.0, launch_seconds=120.0)
    home = tmp_path / "home"
    home.mkdir()
    rc = emu.write_rc(home / ".iotlabrc", "alice")
    env = {**os.environ, "HOME": str(home), "IOTLAB_PASSWORD_FILE": str(rc),
           "IOTLAB_API_URL": emu.url, "PYTHONPATH": str(REPO)}
    for name in ("HOME", "IOTLAB_PASSWORD_FILE", "IOTLAB_API_URL"):
        monkeypatch.setenv(name, env[name])
    stack = IotlabStack(tmp_path / "stack", emu)
    stack.write(**section(stack.fw_a))
    proc = subprocess.Popen([sys.executable, "-c", "from bedform.cli import main; main()",
                             "-c", str(stack.file), "apply", "--auto-approve"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    state_file = stack.root / ".bedform" / "state.json"
    deadline = time.time() + 30
    exp_id = None
    try:
        while time.time() < deadline and exp_id is None:
            time.sleep(0.1)
            # through the store: the id sits in the journal until the run folds it
            with contextlib.suppress(OSError, ValueError, KeyError, StateError):
                exp_id = stack.state().resources["iot.experiment"].attributes.get("id")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert exp_id is not None, "the experiment id was never checkpointed"
    assert stack.state().resources["iot.experiment"].status == "pending_create"
    plan = stack.run("plan")
    assert "adopt" in plan.output, plan.output
    emu.advance(150)                                   # the experiment starts running
    stack.apply()
    submits = [r for r in emu.requests()
               if r["method"] == "POST" and r["path"] == "/api/experiments"]
    assert len(submits) == 1
    exp = stack.state().resources["iot.experiment"]
    assert exp.attributes["id"] == exp_id and exp.status == "ready"
    ours = emu.app.testbed.list_experiments("alice", [], 0, 0)
    assert [e["id"] for e in ours] == [exp_id]
    assert len(stack.flashes()) == 1
    text = state_file.read_text()
    assert "alice-pw" not in text and "password" not in text


def test_flash_failure_names_the_boards_and_next_apply_flashes_again(stack):
    stack.write(**section(stack.fw_a))
    board = "m3-2.grenoble.iot-lab.info"
    stack.emu.add_fault(kind="node_ko", command="flash", nodes=[board], count=1)
    result = stack.run("apply", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert f"failed on 1 board(s): {board}" in result.output, result.output
    assert "iot.firmware[0]" not in stack.state().resources or \
        stack.state().resources["iot.firmware[0]"].status != "ready"
    stack.emu.clear_requests()
    stack.apply()
    assert len(stack.flashes()) == 1
    assert stack.emu.firmware()[board]["name"] == "fw-a.elf"


def test_run_killed_while_flashing_flashes_again_on_the_same_experiment(stack):
    stack.write(**section(stack.fw_a)).apply()
    exp_id = stack.state().resources["iot.experiment"].attributes["id"]
    # as if the run had died during the flash: the firmware record is still pending
    path = stack.root / ".bedform" / "state.json"
    doc = json.loads(path.read_text())
    doc["resources"]["iot.firmware[0]"]["status"] = "pending_create"
    doc["resources"]["iot.firmware[0]"]["attributes"] = {}
    path.write_text(json.dumps(doc))
    stack.emu.clear_requests()
    plan = stack.run("plan")
    assert "# iot.firmware[0] will be created" in plan.output, plan.output
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.output
    stack.apply()
    assert len(stack.flashes()) == 1
    assert [p for p in stack.posts() if p == "/api/experiments"] == []
    assert stack.state().resources["iot.experiment"].attributes["id"] == exp_id
    assert stack.state().resources["iot.firmware[0]"].status == "ready"
