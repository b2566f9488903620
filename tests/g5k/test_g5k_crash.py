"""Crash safety and retries: a SIGKILLed apply leaves a pending job that is adopted;
failed nodes are redeployed while earlier successes are kept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from grid5000 import Grid5000

from bedform.errors import StateError
from tests.g5k.conftest import G5kStack, section

REPO = Path(__file__).resolve().parents[2]


def test_sigkill_after_submit_adopts_the_job(g5k_emulator_factory, tmp_path, monkeypatch):
    emu = g5k_emulator_factory(speed=1.0, epoch=None, launch_seconds=120.0,
                               deploy_seconds=1.0)
    config = tmp_path / "g5k.yaml"
    emu.write_client_config(config, "alice")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(config))
    stack = G5kStack(tmp_path / "stack", emu).write(**section())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", "from bedform.cli import main; main()",
                             "-c", str(stack.file), "apply", "--auto-approve"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    state_file = stack.root / ".bedform" / "state.json"
    deadline = time.time() + 30
    uid = None
    while time.time() < deadline and uid is None:
        time.sleep(0.2)
        # The state file plus the journal the running apply appends to.
        with contextlib.suppress(StateError, KeyError):
            uid = stack.state().resources["g5k.job[rennes]"].attributes.get("uid")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert uid is not None, "the job id was never checkpointed"
    assert stack.state().resources["g5k.job[rennes]"].status == "pending_create"
    emu.advance(150)   # the job starts running
    stack.apply()
    jobs = [p for m, p in stack.mutations() if m == "POST" and p.endswith("/jobs")]
    assert len(jobs) == 1
    assert stack.state().resources["g5k.job[rennes]"].attributes["uid"] == uid
    text = state_file.read_text()
    assert "alice-pw" not in text and "password" not in text


def test_failed_node_is_retried_and_successes_kept(stack):
    stack.write(**section())
    node = "parasilo-1.rennes.grid5000.fr"
    stack.emu.add_fault(kind="deploy_ko", nodes=[node], count=1)
    stack.apply()
    dep = stack.state().resources["g5k.deployment[rennes/n1]"]
    assert node in dep.attributes["deployed"] and len(dep.attributes["deployed"]) == 3
    assert len(dep.attributes["uids"]) == 2 and dep.attributes["failed"] == []


def test_node_failing_every_attempt_is_redeployed_alone_next_time(stack):
    stack.write(**section())
    node = "parasilo-1.rennes.grid5000.fr"
    stack.emu.add_fault(kind="deploy_ko", nodes=[node], count=3)
    stack.apply()
    dep = stack.state().resources["g5k.deployment[rennes/n1]"]
    assert dep.attributes["failed"] == [node]
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "# g5k.deployment[rennes/n1] will be updated in-place (reason: changed " \
        f"outside: nodes failed to deploy: {node})" in plan.output
    # dhcp on the secondary NICs is redone once the node is deployed.
    assert "# g5k.dhcp[rennes] must be replaced (reason: inputs changed)" in plan.output
    assert "~ deployed = " in plan.output and "(known after apply)" in plan.output
    assert "Plan: 1 to add, 1 to change, 1 to destroy." in plan.output
    stack.emu.clear_requests()
    stack.apply()
    posts = [r for r in stack.emu.requests() if r["method"] == "POST"]
    assert [r["path"] for r in posts] == ["/stable/sites/rennes/deployments"]
    last = stack.state().resources["g5k.deployment[rennes/n1]"].attributes["uids"][-1]
    client = Grid5000(**yaml.safe_load(Path(os.environ["BEDFORM_G5K_CONFIG"]).read_text()))
    assert client.sites["rennes"].deployments[last].nodes == [node]
    dep = stack.state().resources["g5k.deployment[rennes/n1]"]
    assert dep.attributes["failed"] == [] and node in dep.attributes["deployed"]
    assert len(dep.attributes["deployed"]) == 3
    again = stack.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
