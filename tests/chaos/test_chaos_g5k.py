"""Chaos on the g5k provider against the API emulator: SIGKILL an apply at a random
moment, inject a fault (5xx, latency, failed deploy nodes, a job in error, a job killed
from outside), then apply again without faults and check convergence: exactly one live
job per site, a valid state, a no-op next apply; destroy leaves no job.

The emulator runs in this process; the CLI runs in a subprocess and talks to it over
loopback. Speed 50: a job launches in 0.1 s and a deployment takes 0.4 s of real time.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bedform.emulators.g5k import G5kEmulator
from tests.chaos.conftest import (
    NO_CHANGES,
    SEEDS,
    apply_until_converged,
    assert_state_valid,
    double_sigint,
    kill_after,
    run,
    spawn,
    state_doc,
    wait_for_line,
)

USER, PASSWORD = "alice", "chaos-alice-pw"
LIVE = ("waiting", "launching", "running", "hold", "tolaunch", "toerror")
SITES = ("rennes", "nancy")


def stack_section(key: Path) -> dict[str, Any]:
    return {"type": "g5k", "walltime": "10:00:00", "job_type": "deploy",
            "env_name": "debian12-min", "key": str(key),
            "resources": {
                "machines": [{"roles": ["server"], "cluster": "parasilo", "site": "rennes",
                              "nodes": 2, "primary_network": "n1"},
                             {"roles": ["client"], "cluster": "gros", "site": "nancy",
                              "nodes": 1}],
                "networks": [{"id": "n1", "type": "kavlan", "roles": ["lan"],
                              "site": "rennes"}]}}


class Chaos:
    def __init__(self, root: Path, emu: G5kEmulator) -> None:
        self.root, self.emu = root, emu
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        key = root / "id.pub"
        key.write_text("ssh-ed25519 AAAA chaos@bedform\n")
        self.file.write_text(yaml.safe_dump({"name": "chaos",
                                             "providers": {"g5k": stack_section(key)}}))
        emu.write_client_config(root / "g5k.yaml", USER)
        self.env = {"BEDFORM_G5K_CONFIG": str(root / "g5k.yaml")}
        self.state_dir = root / ".bedform"

    def live_jobs(self) -> dict[str, list[int]]:
        """Live jobs of the stack's name, per site, listed as the user through the API."""
        out = {}
        for site in SITES:
            answer = requests.get(f"{self.emu.url}/sites/{site}/jobs", auth=(USER, PASSWORD),
                                  params={"user": USER, "name": "chaos"}, timeout=10)
            answer.raise_for_status()
            out[site] = sorted(j["uid"] for j in answer.json()["items"]
                               if j["state"] in LIVE)
        return out

    def clear_faults(self) -> None:
        requests.delete(f"{self.emu.base_url}/_emulator/faults", timeout=10).raise_for_status()

    def kill_from_outside(self, site: str) -> bool:
        uids = self.live_jobs()[site]
        for uid in uids:
            requests.delete(f"{self.emu.url}/sites/{site}/jobs/{uid}", auth=("admin", "admin"),
                            timeout=10)
        return bool(uids)

    def assert_converged(self, context: str) -> None:
        doc = assert_state_valid(self.state_dir, context)
        jobs = self.live_jobs()
        for site in SITES:
            assert len(jobs[site]) == 1, f"{context}: live jobs per site {jobs}"
            record = doc["resources"][f"g5k.job[{site}]"]
            assert record["attributes"]["uid"] == jobs[site][0], f"{context}: {record}"
        self.emu.clear_requests()
        again = run(self.file, "apply", "--auto-approve", env=self.env)
        assert again.returncode == 0 and NO_CHANGES in again.stdout, \
            f"{context}: second apply\n{again.stdout}"
        mutations = [r for r in self.emu.requests() if r["method"] in ("POST", "PUT", "DELETE")]
        assert not mutations, f"{context}: the no-op apply mutated {mutations}"

    def destroy(self, context: str) -> None:
        result = run(self.file, "destroy", "--auto-approve", env=self.env)
        assert result.returncode == 0, f"{context}: destroy\n{result.stdout}"
        assert self.live_jobs() == {s: [] for s in SITES}, f"{context}: jobs left"
        assert not state_doc(self.state_dir)["resources"], f"{context}: state not empty"


@pytest.fixture
def chaos(tmp_path):
    with G5kEmulator(users={USER: PASSWORD}, speed=50.0, launch_seconds=5.0,
                     deploy_seconds=20.0) as emu:
        yield Chaos(tmp_path / "stack", emu)


FAULTS = ("none", "http_5xx", "latency", "deploy_ko", "deploy_error", "job_error",
          "killed_outside")


def inject(chaos: Chaos, fault: str, rng: random.Random) -> None:
    """Faults active while the (killed) apply runs; `killed_outside` acts after it."""
    if fault == "http_5xx":
        chaos.emu.add_fault(kind="http", method=rng.choice(["POST", "GET", "POST|GET"]),
                            path=rng.choice(["/jobs", "/deployments", "/vlans", "/sites/"]),
                            status=rng.choice([500, 502, 503]), count=rng.randint(1, 3))
    elif fault == "latency":
        chaos.emu.add_fault(kind="http", method="GET|POST|DELETE", path="/sites/",
                            latency_ms=rng.choice([50, 200, 500]), count=rng.randint(2, 10))
    elif fault == "deploy_ko":
        node = rng.choice(["parasilo-1", "parasilo-2", "gros-1"])
        site = "nancy" if node.startswith("gros") else "rennes"
        chaos.emu.add_fault(kind="deploy_ko", nodes=[f"{node}.{site}.grid5000.fr"], count=1)
    elif fault == "deploy_error":
        chaos.emu.add_fault(kind="deploy_error", count=1)
    elif fault == "job_error":
        chaos.emu.add_fault(kind="job_error", site=rng.choice(SITES), count=1)


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_fault_then_apply_converges(chaos: Chaos, seed: int) -> None:
    rng = random.Random(seed)
    fault = rng.choice(FAULTS)
    delay = rng.uniform(0.2, 2.5)
    context = f"g5k chaos seed {seed} (fault {fault}, SIGKILL after {delay:.2f} s)"
    inject(chaos, fault, rng)
    kill_after(spawn(chaos.file, "apply", "--auto-approve", env=chaos.env), delay)
    if fault == "killed_outside":
        chaos.kill_from_outside(rng.choice(SITES))
    if rng.random() < 0.5:   # sometimes a second crash, without a fault
        kill_after(spawn(chaos.file, "apply", "--auto-approve", env=chaos.env),
                   rng.uniform(0.2, 1.5))
    chaos.clear_faults()
    apply_until_converged(chaos.file, context, env=chaos.env)
    chaos.assert_converged(context)
    chaos.destroy(context)


def test_sigint_twice_exits_130_then_apply_converges(chaos: Chaos) -> None:
    double_sigint(chaos.file, env=chaos.env)
    apply_until_converged(chaos.file, "after SIGINT x2", env=chaos.env, attempts=1)
    chaos.assert_converged("after SIGINT x2")
    chaos.destroy("after SIGINT x2")


def test_concurrent_applies_one_fails_fast_naming_the_holder(chaos: Chaos) -> None:
    first = spawn(chaos.file, "apply", "--auto-approve", env=chaos.env)
    wait_for_line(first, "Creating...")        # it holds the lock now
    os.kill(first.pid, signal.SIGSTOP)          # and keeps it, however fast it would be
    try:
        started = time.monotonic()
        second = run(chaos.file, "apply", "--auto-approve", env=chaos.env, timeout=30)
        fast = time.monotonic() - started
    finally:
        os.kill(first.pid, signal.SIGCONT)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out
    assert second.returncode == 1, second.stdout
    assert "locked by" in second.stdout and f"pid {first.pid}" in second.stdout, second.stdout
    assert "running 'apply'" in second.stdout, second.stdout
    assert fast < 5, f"the second apply waited {fast:.1f} s"
    chaos.assert_converged("concurrent applies")
    chaos.destroy("concurrent applies")


def test_racing_applies_exactly_one_wins(chaos: Chaos) -> None:
    procs = [spawn(chaos.file, "apply", "--auto-approve", env=chaos.env) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 1], [0, 0]), outs   # [0, 0]: the second started after the first
    loser = [o for p, o in zip(procs, outs, strict=True) if p.returncode == 1]
    if loser:
        assert "locked by" in loser[0], loser[0]
    chaos.assert_converged("racing applies")
    chaos.destroy("racing applies")


def test_one_site_killed_from_outside_is_recreated(chaos: Chaos) -> None:
    apply_until_converged(chaos.file, "first apply", env=chaos.env, attempts=1)
    time.sleep(2)                      # 100 virtual seconds: the reservation is now old
    assert chaos.kill_from_outside("nancy")
    apply_until_converged(chaos.file, "after a kill from outside", env=chaos.env,
                          attempts=2)
    chaos.assert_converged("after a kill from outside")
    chaos.destroy("after a kill from outside")
