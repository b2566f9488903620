"""Chaos on the Distem provider against the Grid'5000 box: SIGKILL an apply during the
Distem bootstrap, or between two requests of a vnode's creation; the next apply converges
with every vnode once (no duplicate, none half-made), each answering SSH, and a further
apply is a no-op for the G5k API and for distemd.

The box runs in this process (speed 50); the CLI runs in a subprocess with an ssh-agent
holding the box user's key, as a user's shell would.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import (  # noqa: F401
    g5k_box_factory,
    g5k_emulator_factory,
    ssh_agent,
)
from bedform.providers.distem.client import coordinator_api
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

VNODES = 4
MUTATING = ("POST", "PUT", "DELETE")


class DistemChaos:
    def __init__(self, root: Path, emu: G5kEmulator, agent: str) -> None:
        assert emu.box is not None
        self.emu, self.root = emu, root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        key = emu.box.user_key("alice").with_suffix(".pub")
        self.file.write_text(yaml.safe_dump({"name": "distemchaos", "providers": {"distem": {
            "type": "distem", "walltime": "10:00:00", "key": str(key),
            "image": "file:///home/alice/public/distem-fs-bookworm.tar.gz",
            "resources": {"machines": [{"roles": ["node"], "cluster": "parasilo",
                                        "number": VNODES}]}}}}))
        emu.write_client_config(root / "g5k.yaml", "alice")
        self.env = {"BEDFORM_G5K_CONFIG": str(root / "g5k.yaml"), "SSH_AUTH_SOCK": agent}
        self.state_dir = root / ".bedform"
        self.jump = {"gateway": emu.box.access, "gateway_user": "alice"}

    def distem_log(self) -> list[dict[str, Any]]:
        """Every node's distemd requests (the first node is the coordinator)."""
        assert self.emu.box is not None
        items = []
        for log in (self.emu.box.dir / "hosts").glob("*/root/.bedform-distem/requests.log"):
            for line in log.read_text().splitlines():
                with contextlib.suppress(ValueError):   # a line being written
                    items.append(json.loads(line))
        return sorted(items, key=lambda item: item["time"])

    def assert_converged(self, context: str) -> None:
        """Valid state; each vnode once, running, answering SSH; a no-op apply."""
        state = assert_state_valid(self.state_dir, context)
        coordinator = state["resources"]["distem.bootstrap"]["attributes"]["coordinator"]
        with coordinator_api(coordinator, self.jump) as api:
            vnodes = api.call("vnodes_info")
        names = sorted(v["name"] for v in vnodes)
        assert names == [f"vnode-0-{k}" for k in range(VNODES)], f"{context}: {names}"
        assert {v["status"] for v in vnodes} == {"RUNNING"}, f"{context}: {vnodes}"
        config = self.root / "ssh_config"
        config.write_text(run(self.file, "output", "--format", "ssh-config",
                              env=self.env).stdout)
        for name in names:
            result = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", name,
                                     "hostname"], capture_output=True, text=True,
                                    timeout=60, env={**os.environ, **self.env})
            assert result.stdout.strip() == name, f"{context}: {name}: {result.stderr}"
        self.emu.clear_requests()
        before = len([r for r in self.distem_log() if r["method"] in MUTATING])
        again = run(self.file, "apply", "--auto-approve", env=self.env)
        assert again.returncode == 0 and NO_CHANGES in again.stdout, again.stdout
        assert not [r for r in self.emu.requests() if r["method"] in MUTATING]
        assert len([r for r in self.distem_log() if r["method"] in MUTATING]) == before


@pytest.fixture
def chaos(g5k_box_factory: Callable[..., G5kEmulator],  # noqa: F811
          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DistemChaos]:
    emu = g5k_box_factory(speed=50.0, launch_seconds=5.0, deploy_seconds=40.0)
    assert emu.box is not None
    with ssh_agent([emu.box.user_key("alice")], tmp_path) as agent:
        monkeypatch.setenv("SSH_AUTH_SOCK", agent)   # the test's own distemd listings
        yield DistemChaos(tmp_path / "stack", emu, agent)


def test_sigkill_during_the_bootstrap_then_apply_converges(chaos: DistemChaos) -> None:
    proc = spawn(chaos.file, "apply", "--auto-approve", env=chaos.env)
    wait_for_line(proc, "distem.bootstrap: Creating...")
    kill_after(proc, 0.3)
    apply_until_converged(chaos.file, "SIGKILL during the bootstrap", env=chaos.env)
    chaos.assert_converged("SIGKILL during the bootstrap")


def half_made(log: list[dict[str, Any]]) -> list[str]:
    """Vnodes created (`POST /vnodes/<name>`) but not yet started (`PUT`)."""
    created = {r["path"].rstrip("/").split("/")[2] for r in log
               if r["method"] == "POST" and r["path"].count("/") in (2, 3)
               and r["path"].startswith("/vnodes/") and r["path"].rstrip("/") != "/vnodes"}
    started = {r["path"].rstrip("/").split("/")[2] for r in log
               if r["method"] == "PUT" and r["path"].startswith("/vnodes/")}
    return sorted(created - started)


def test_sigkill_during_vnode_creation_then_apply_converges(chaos: DistemChaos) -> None:
    proc = spawn(chaos.file, "apply", "--auto-approve", env=chaos.env)
    wait_for_line(proc, "distem.vnetwork: Creation complete")
    deadline = time.monotonic() + 30
    caught: list[str] = []
    while not caught and time.monotonic() < deadline and proc.poll() is None:
        caught = half_made(chaos.distem_log())
        time.sleep(0.002)
    kill_after(proc, 0)
    assert caught, "the kill did not land between a vnode's creation and its start"
    apply_until_converged(chaos.file, "SIGKILL during vnode creation", env=chaos.env)
    chaos.assert_converged("SIGKILL during vnode creation")
    creations = [r["path"] for r in chaos.distem_log()
                 if r["method"] == "POST" and r["path"].rstrip("/").count("/") == 2
                 and r["path"].startswith("/vnodes/")]
    assert len(creations) >= VNODES
