"""The conformance harness of the fake cloud (tests/fakecloud.py): objects in a JSON
file whose names carry the stack id, a counter of mutating calls, a settable clock."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bedform.conformance import Breakage, ConformanceStack, Harness, InputChange, Size
from tests.fakecloud import Cloud, register

REPO = Path(__file__).resolve().parents[3]
WALLTIME = 3600


class FakeHarness(Harness):
    """Stacks of one network, one expiring job, servers `web` (in the job; 2, grown 4)
    and a server `db`, all in one cloud file shared by the stacks of a test."""

    name = "fake"
    breakages = ("deleted", "expired")
    crash_points = 5

    def __init__(self, cloud: Path) -> None:
        register()  # `type: fake` for the in-process CLI runs
        self.cloud = Cloud(cloud)
        self.prefixes: dict[str, str] = {}

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        section = {
            "type": "fake", "cloud": str(self.cloud.path), "latency": 0.05 if slow else 0.0,
            "networks": [{"name": "lan", "cidr": "10.0.0.0/24"}],
            "jobs": [{"name": "batch", "walltime": WALLTIME}],
            "servers": [{"name": "web", "count": 4 if size == "grown" else 2,
                         "network": "lan", "job": "batch"},
                        {"name": "db", "image": "ubuntu" if changed else "debian",
                         "network": "lan"}]}
        return {"name": name, "providers": {"fake": section}}

    def environment(self) -> dict[str, str]:
        path = os.environ.get("PYTHONPATH", "")
        return {"PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}

    def cli_command(self) -> list[str]:
        return [sys.executable, "-m", "tests.fakecloud_cli"]

    def input_change(self) -> InputChange:
        return InputChange("the image of server db", frozenset({"fake.server[db-1]"}))

    def adoptable(self) -> str:
        return "fake.job[batch]"

    def _prefix(self, stack: ConformanceStack) -> str | None:
        """The fake driver names objects `<stack id>:<address>`; the id is read from the
        state once it records something, and kept for after the destroy."""
        if stack.name not in self.prefixes:
            for record in stack.state()["resources"].values():
                name = record.get("identity", {}).get("name", "")
                if ":" in name:
                    self.prefixes[stack.name] = name.split(":", 1)[0] + ":"
        return self.prefixes.get(stack.name)

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        prefix = self._prefix(stack)
        out: dict[str, list[str]] = {}
        for obj in self.cloud.live():
            if prefix and obj["name"].startswith(prefix):
                out.setdefault(obj["name"], []).append(str(obj["id"]))
        return out

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        return {record["identity"]["name"]: address
                for address, record in state["resources"].items()
                if record["kind"].startswith("fake_")}

    def mutations(self) -> int:
        return int(self.cloud.snapshot()["mutations"])

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        if how == "expired":
            self.cloud.advance(WALLTIME + 60)
            return Breakage(frozenset({"fake.job[batch]", "fake.server[web-1]",
                                       "fake.server[web-2]"}), "expired at")
        target = f"{self._prefix(stack)}fake.server[db-1]"
        with self.cloud.open() as data:
            data["objects"] = {key: obj for key, obj in data["objects"].items()
                               if obj["name"] != target}
        return Breakage(frozenset({"fake.server[db-1]"}), "deleted outside")

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        left = self.owned(stack)
        with self.cloud.open() as data:
            data["objects"] = {key: obj for key, obj in data["objects"].items()
                               if obj["name"] not in left}
        return left
