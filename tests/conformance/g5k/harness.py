"""The conformance harness of Grid'5000, against the API emulator over real HTTP: jobs
are listed as the user through the API, mutating calls counted in the emulator's
request log, expiry made by moving its clock, kills made as an administrator."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from bedform.conformance import (
    Breakage,
    ConformanceStack,
    EmulatorControl,
    Harness,
    InputChange,
    Size,
)
from bedform.emulators.g5k import G5kEmulator

USER = "alice"
ADMIN = ("admin", "admin")
LIVE = ("waiting", "launching", "running", "hold", "tolaunch", "toerror")
SITES = ("rennes", "nancy")
WALLTIME = 3600


class G5kHarness(Harness):
    """A deploy job of one parasilo node in rennes; growing adds a gros node in nancy
    (a second job); the change is the environment to deploy."""

    name = "g5k"
    breakages = ("expired", "killed")
    crash_points = 2

    def __init__(self, emulator: G5kEmulator, workdir: Path) -> None:
        self.emulator = emulator
        self.control = EmulatorControl(emulator.base_url)
        self.config = emulator.write_client_config(workdir / "g5k-client.yaml", USER)
        self.key = workdir / "id.pub"
        self.key.write_text("ssh-ed25519 AAAA conformance@bedform\n")

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        machines = [{"roles": ["server"], "cluster": "parasilo", "site": "rennes",
                     "nodes": 1}]
        if size == "grown":
            machines.append({"roles": ["client"], "cluster": "gros", "site": "nancy",
                             "nodes": 1})
        section = {"type": "g5k", "walltime": "01:00:00", "job_type": "deploy",
                   "env_name": "debian11-min" if changed else "debian12-min",
                   "key": str(self.key), "resources": {"machines": machines}}
        return {"name": name, "providers": {"g5k": section}}

    def environment(self) -> dict[str, str]:
        return {"BEDFORM_G5K_CONFIG": str(self.config)}

    def input_change(self) -> InputChange:
        return InputChange("the environment deployed",
                           frozenset({"g5k.deployment[rennes/prod-rennes]"}))

    def adoptable(self) -> str:
        return "g5k.job[rennes]"

    def _jobs(self, site: str, name: str) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.emulator.url}/sites/{site}/jobs",
                              auth=(USER, self.emulator.users[USER]),
                              params={"user": USER, "name": name}, timeout=10)
        answer.raise_for_status()
        return [job for job in answer.json()["items"] if job["state"] in LIVE]

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """Live jobs named after the stack, per site (the stack's name is unique)."""
        return {f"job[{site}]": [str(job["uid"]) for job in self._jobs(site, stack.name)]
                for site in SITES}

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        return {f"job[{record['inputs']['site']}]": address
                for address, record in state["resources"].items()
                if record["kind"] == "g5k_job"}

    def mutations(self) -> int:
        return self.control.mutations()

    def _kill(self, site: str, uid: str) -> None:
        requests.delete(f"{self.emulator.url}/sites/{site}/jobs/{uid}", auth=ADMIN,
                        timeout=10).raise_for_status()

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        broken = frozenset({"g5k.job[rennes]", "g5k.deployment[rennes/prod-rennes]"})
        if how == "expired":
            self.control.advance(WALLTIME + 60)
            return Breakage(broken, "expired")
        for uid in self.owned(stack)["job[rennes]"]:
            self._kill("rennes", uid)
        return Breakage(broken, "killed")

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        left = {key: ids for key, ids in self.owned(stack).items() if ids}
        for key, uids in left.items():
            for uid in uids:
                self._kill(key[4:-1], uid)
        return left
