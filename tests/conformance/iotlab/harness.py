"""The conformance harness of FIT IoT-LAB, against the API emulator over real HTTP:
experiments and profiles are listed as the user through the API, mutating calls counted
in the emulator's request log, expiry made by moving its clock, kills made by the
testbed itself (an operator stopping the experiment, not the user's client)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from bedform.conformance import (
    Breakage,
    ConformanceStack,
    EmulatorControl,
    Harness,
    InputChange,
    Size,
)
from bedform.emulators.iotlab import IotlabEmulator

USER = "alice"
ACTIVE = "Running,Launching,toLaunch,Waiting"
WALLTIME = 3600
SLOW_MS = 300
"""Latency of each mutating call in the crash test, for kills to land mid-run."""


def firmware(path: Path, text: str) -> Path:
    """A small ELF-looking firmware file whose content says `text`."""
    path.write_bytes(b"\x7fELF\x01\x01\x01" + text.encode() + b"\x00" * 16)
    return path


class IotlabHarness(Harness):
    """One m3 board in grenoble with a firmware and a radio profile of its own; the
    change is the firmware file (another one). Growing is skipped: an IoT-LAB experiment cannot
    gain boards, so more boards always means a new experiment (a replacement)."""

    name = "iotlab"
    breakages = ("expired", "killed")
    crash_points = 3

    def __init__(self, emulator: IotlabEmulator, workdir: Path) -> None:
        self.emulator = emulator
        self.control = EmulatorControl(emulator.base_url)
        self.workdir = workdir
        self.rc = emulator.write_rc(workdir / "iotlabrc", USER)
        self.slowed = False

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        if size == "grown":
            pytest.skip("an IoT-LAB experiment cannot gain boards: growing replaces it")
        if slow and not self.slowed:
            self.emulator.add_fault(method="POST|DELETE", latency_ms=SLOW_MS)
            self.slowed = True
        machine = {"roles": ["sensor"], "archi": "m3:at86rf231", "site": "grenoble",
                   "number": 1, "image": str(self._image(name, changed)),
                   "profile": f"{name}-radio"}
        profile = {"name": f"{name}-radio", "archi": "m3",
                   "radio": {"mode": "rssi", "channels": [11], "period": 100,
                             "num_per_channel": 1}}
        return {"name": name, "providers": {"iot": {
            "type": "iotlab", "walltime": "01:00", "resources": {"machines": [machine]},
            "monitoring": {"profiles": [profile]}}}}

    def write_stack(self, directory: Path, name: str, size: Size, changed: bool = False,
                    slow: bool = False) -> Path:
        path = super().write_stack(directory, name, size, changed=changed, slow=slow)
        firmware(self._image(name, changed), "firmware B" if changed else "firmware A")
        return path

    def _image(self, name: str, changed: bool) -> Path:
        return self.workdir / f"{name}-{'b' if changed else 'a'}.elf"

    def environment(self) -> dict[str, str]:
        return {**self.emulator.client_env(self.rc), "HOME": str(self.rc.parent)}

    def input_change(self) -> InputChange:
        return InputChange("the firmware file", frozenset({"iot.firmware[0]"}))

    def adoptable(self) -> str:
        return "iot.experiment"

    def _get(self, path: str, **params: str) -> Any:
        answer = requests.get(f"{self.emulator.url}{path}", params=params, timeout=10,
                              auth=self.emulator.credentials(USER))
        answer.raise_for_status()
        return answer.json()

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """Active experiments named after the stack, and the stack's own profiles."""
        experiments = self._get("experiments", state=ACTIVE, limit="0")["items"]
        profiles = [p["profilename"] for p in self._get("monitoring")]
        return {"experiment": [str(e["id"]) for e in experiments
                               if e["name"] == stack.name],
                f"profile[{stack.name}-radio]": [p for p in profiles
                                                 if p == f"{stack.name}-radio"]}

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        out = {}
        for address, record in state["resources"].items():
            if record["kind"] == "iotlab_experiment":
                out["experiment"] = address
            elif record["kind"] == "iotlab_profile":
                out[f"profile[{record['identity']['name']}]"] = address
        return out

    def mutations(self) -> int:
        return self.control.mutations()

    def _stop(self, uid: str) -> None:
        self.emulator.testbed.stop(USER, int(uid))

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        broken = frozenset({"iot.experiment", "iot.firmware[0]",
                            "iot.profile_association[0]"})
        if how == "expired":
            self.control.advance(WALLTIME + 60)
            return Breakage(broken, "expired")
        for uid in self.owned(stack)["experiment"]:
            self._stop(uid)
        return Breakage(broken, "stopped outside bedform")

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        left = {key: ids for key, ids in self.owned(stack).items() if ids}
        for uid in left.get("experiment", []):
            self._stop(uid)
        for key, names in left.items():
            for name in names if key.startswith("profile[") else []:
                requests.delete(f"{self.emulator.url}monitoring/{name}", timeout=10,
                                auth=self.emulator.credentials(USER)).raise_for_status()
        return left
