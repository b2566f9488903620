"""Chaos on the g5k provider against the Grid'5000 box, whose nodes are real SSH hosts:
SIGKILL an apply during the deployment or during the dhcp step, or break a node so that
its deployment fails; the next applies converge to nodes that answer SSH through the
access frontend with their kavlan address, and a further apply is a no-op.

The box runs in this process (speed 50); the CLI runs in a subprocess with an ssh-agent
holding the box user's key, as a user's shell would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import (  # noqa: F401
    g5k_box_factory,
    g5k_emulator_factory,
    ssh_agent,
)
from tests.chaos.conftest import (
    NO_CHANGES,
    apply_until_converged,
    assert_state_valid,
    kill_after,
    run,
    spawn,
    wait_for_line,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")


class BoxChaos:
    def __init__(self, root: Path, emu: G5kEmulator, agent: str) -> None:
        assert emu.box is not None
        self.emu, self.root = emu, root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        key = emu.box.user_key("alice").with_suffix(".pub")
        self.file.write_text(yaml.safe_dump({"name": "boxchaos", "providers": {"g5k": {
            "type": "g5k", "walltime": "10:00:00", "job_type": "deploy",
            "env_name": "debian12-min", "key": str(key),
            "resources": {
                "machines": [{"roles": ["server"], "cluster": "parasilo", "site": "rennes",
                              "nodes": 2, "primary_network": "prod",
                              "secondary_networks": ["lan"]}],
                "networks": [{"id": "prod", "type": "prod", "roles": ["prod"],
                              "site": "rennes"},
                             {"id": "lan", "type": "kavlan", "roles": ["lan"],
                              "site": "rennes"}]}}}}))
        emu.write_client_config(root / "g5k.yaml", "alice")
        self.env = {"BEDFORM_G5K_CONFIG": str(root / "g5k.yaml"), "SSH_AUTH_SOCK": agent}
        self.state_dir = root / ".bedform"

    def control(self, method: str, path: str) -> Any:
        answer = requests.request(method, f"{self.emu.base_url}/_emulator/box{path}",
                                  timeout=30)
        answer.raise_for_status()
        return answer.json()

    def assert_converged(self, context: str) -> None:
        """Valid state; every node answers SSH with its kavlan address; no-op apply."""
        assert_state_valid(self.state_dir, context)
        config = self.root / "ssh_config"
        config.write_text(run(self.file, "output", "--format", "ssh-config",
                              env=self.env).stdout)
        document = json.loads(run(self.file, "output", "--format", "json",
                                  env=self.env).stdout)
        servers = document["roles"]["server"]
        assert len(servers) == 2, f"{context}: {servers}"
        for alias in servers:
            result = subprocess.run(
                ["ssh", "-F", str(config), "-o", "BatchMode=yes", alias,
                 "cat /etc/bedform-environment; ip -br -4 a show dev eno2"],
                capture_output=True, text=True, timeout=60,
                env={**os.environ, **self.env})
            assert result.returncode == 0, f"{context}: {alias}: {result.stderr}"
            assert result.stdout.startswith("debian12-min"), f"{context}: {result.stdout}"
            assert re.search(r"UP\s+10\.24\.", result.stdout), f"{context}: {result.stdout}"
        self.emu.clear_requests()
        again = run(self.file, "apply", "--auto-approve", env=self.env)
        assert again.returncode == 0 and NO_CHANGES in again.stdout, again.stdout
        mutations = [r for r in self.emu.requests() if r["method"] in ("POST", "PUT", "DELETE")]
        assert not mutations, f"{context}: the no-op apply mutated {mutations}"


@pytest.fixture
def chaos(g5k_box_factory: Callable[..., G5kEmulator],  # noqa: F811
          tmp_path: Path) -> Iterator[BoxChaos]:
    emu = g5k_box_factory(speed=50.0, launch_seconds=5.0, deploy_seconds=40.0)
    assert emu.box is not None
    with ssh_agent([emu.box.user_key("alice")], tmp_path) as agent:
        yield BoxChaos(tmp_path / "stack", emu, agent)


@pytest.mark.parametrize("step", ["g5k.deployment[rennes/prod]", "g5k.dhcp[rennes]"])
def test_sigkill_during_a_step_then_apply_converges(chaos: BoxChaos, step: str) -> None:
    proc = spawn(chaos.file, "apply", "--auto-approve", env=chaos.env)
    wait_for_line(proc, f"{step}: Creating...")
    kill_after(proc, 0.05)
    apply_until_converged(chaos.file, f"SIGKILL during {step}", env=chaos.env)
    chaos.assert_converged(f"SIGKILL during {step}")


def test_a_node_failing_deployment_then_repaired_converges(chaos: BoxChaos) -> None:
    broken = "parasilo-2.rennes.grid5000.fr"
    chaos.control("POST", f"/nodes/{broken}/break")
    first = run(chaos.file, "apply", "--auto-approve", env=chaos.env)
    assert first.returncode == 0, first.stdout  # the deployment keeps the nodes it got
    state = json.loads((chaos.state_dir / "state.json").read_text())
    deployed = state["resources"]["g5k.deployment[rennes/prod]"]["attributes"]
    assert deployed["failed"] == [broken], deployed
    assert broken not in deployed["deployed"] and len(deployed["deployed"]) == 1, deployed
    chaos.control("POST", f"/nodes/{broken}/repair")
    apply_until_converged(chaos.file, "node repaired", env=chaos.env)
    chaos.assert_converged("node repaired")
