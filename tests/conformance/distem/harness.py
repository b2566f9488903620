"""The conformance harness of Distem, against the Grid'5000 box: jobs are listed through
the G5k API as the user, vnodes and the vnetwork through the coordinator's distemd (the
first node of the job, through the access frontend), mutating calls counted in the G5k
emulator's request log plus every node's distemd request log, expiry made by moving the
clock, kills made as an administrator, a vnode deleted through the Distem API."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from bedform.conformance import Breakage, ConformanceStack, InputChange, Size
from bedform.emulators.g5k import G5kEmulator
from bedform.providers.distem.client import coordinator_api
from bedform.providers.vmong5k.placement import sorted_nodes
from tests.conformance.g5k.harness import SITES, USER, G5kHarness

IMAGE = "file:///home/alice/public/distem-fs-{}.tar.gz"
MUTATING = ("POST", "PUT", "DELETE")
ALL = frozenset({"distem.job[rennes]", "distem.deployment[rennes/prod-rennes]",
                 "distem.bootstrap", "distem.vnetwork", "distem.vnode[0/0]",
                 "distem.vnode[0/1]"})


class DistemHarness(G5kHarness):
    """Two vnodes on one parasilo node in rennes; growing adds a third; the change is
    the vnodes' image."""

    name = "distem"
    breakages = ("deleted", "expired", "killed")
    crash_points = 3

    def __init__(self, emulator: G5kEmulator, workdir: Path, agent: str) -> None:
        super().__init__(emulator, workdir)
        assert emulator.box is not None
        self.agent = agent
        self.key = emulator.box.user_key(USER).with_suffix(".pub")
        self.jump = {"gateway": emulator.box.access, "gateway_user": USER}

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        machines = [{"roles": ["node"], "cluster": "parasilo",
                     "number": 3 if size == "grown" else 2}]
        section = {"type": "distem", "walltime": "01:00:00", "key": str(self.key),
                   "image": IMAGE.format("trixie" if changed else "bookworm"),
                   "resources": {"machines": machines}}
        return {"name": name, "providers": {"distem": section}}

    def environment(self) -> dict[str, str]:
        return {"BEDFORM_G5K_CONFIG": str(self.config), "SSH_AUTH_SOCK": self.agent}

    def input_change(self) -> InputChange:
        return InputChange("the vnodes' image",
                           frozenset({"distem.vnode[0/0]", "distem.vnode[0/1]"}))

    def adoptable(self) -> str:
        return "distem.job[rennes]"

    def _nodes(self, stack: ConformanceStack) -> list[str]:
        nodes: list[str] = []
        for site in SITES:
            for job in self._jobs(site, stack.name):
                detail = requests.get(f"{self.emulator.url}/sites/{site}/jobs/{job['uid']}",
                                      auth=(USER, self.emulator.users[USER]), timeout=10)
                nodes += detail.json().get("assigned_nodes", [])
        return sorted_nodes(nodes)

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """Live jobs named after the stack, and what the distemd of their first node
        (the coordinator) holds."""
        out = {f"job[{site}]": [str(job["uid"]) for job in self._jobs(site, stack.name)]
               for site in SITES}
        nodes = self._nodes(stack)
        if not nodes:
            return out
        try:
            with coordinator_api(nodes[0], self.jump) as api:
                for vnode in api.call("vnodes_info"):
                    out.setdefault(f"vnode[{vnode['name']}]", []).append(
                        f"{vnode['host']}#{vnode['id']}")
                for network in api.call("get_json", "/vnetworks"):
                    out.setdefault(f"vnetwork[{network['name']}]", []).append(
                        f"{nodes[0]}#{network['id']}")
        except requests.ConnectionError:
            pass   # no distemd on the coordinator
        return out

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        keys = super().recorded(state)
        for address, record in state["resources"].items():
            name = record.get("attributes", {}).get("name")
            if record["kind"] == "distem_vnode" and name:
                keys[f"vnode[{name}]"] = address
            elif record["kind"] == "distem_vnetwork" and name:
                keys[f"vnetwork[{name}]"] = address
        return keys

    def mutations(self) -> int:
        assert self.emulator.box is not None
        count = self.control.mutations()
        for log in (self.emulator.box.dir / "hosts").glob("*/root/.bedform-distem/"
                                                           "requests.log"):
            count += sum(1 for line in log.read_text().splitlines()
                         if json.loads(line)["method"] in MUTATING)
        return count

    def verify(self, stack: ConformanceStack) -> None:
        """Every vnode answers SSH at its own address, through `output`'s ssh config."""
        config = stack.root / "ssh_config"
        config.write_text(stack.ok("output", "--format", "ssh-config").output)
        hosts, _ = stack.inventory()
        for alias, address in hosts.items():
            result = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes",
                                     alias, "echo $SSH_CONNECTION"], capture_output=True,
                                    text=True, timeout=30, check=False,
                                    env={"SSH_AUTH_SOCK": self.agent, "PATH": "/usr/bin"})
            assert result.stdout.split()[2:3] == [address], \
                f"ssh {alias}: {result.stderr}"

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        """A vnode removed through the Distem API, or the G5k harness's breakage of the
        rennes job (everything on it goes too; the key pair stays)."""
        if how == "deleted":
            with coordinator_api(self._nodes(stack)[0], self.jump) as api:
                api.call("vnode_remove", "vnode-0-1")
            return Breakage(frozenset({"distem.vnode[0/1]"}),
                            "vnode vnode-0-1 removed outside bedform")
        reason = super().break_object(stack, how).reason
        return Breakage(ALL, reason)

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        left = {key: ids for key, ids in self.owned(stack).items() if ids}
        for key, uids in left.items():
            if key.startswith("job["):
                for uid in uids:
                    self._kill(key[4:-1], uid)
        return left
