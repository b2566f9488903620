"""The conformance harness of VMonG5k, against the Grid'5000 box: jobs are listed through
the API as the user, domains by `virsh list` on the jobs' nodes (as root, through the
access frontend), mutating API calls counted in the emulator's request log, expiry made
by moving its clock, kills made as an administrator."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from bedform.conformance import Breakage, ConformanceStack, InputChange, Size
from bedform.emulators.g5k import G5kEmulator
from bedform.objects import Host
from bedform.remote import run
from tests.conformance.g5k.harness import SITES, USER, G5kHarness


class VMonG5kHarness(G5kHarness):
    """Two VMs on one parasilo node in rennes; growing adds a group of one VM on a gros
    node in nancy (a second job); the change is the flavour of the rennes group."""

    name = "vmong5k"
    breakages = ("expired", "killed")
    crash_points = 2

    def __init__(self, emulator: G5kEmulator, workdir: Path, agent: str) -> None:
        super().__init__(emulator, workdir)
        assert emulator.box is not None
        self.agent = agent
        self.key = emulator.box.user_key(USER).with_suffix(".pub")
        self.image = workdir / "base.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(self.image), "1G"],
                       check=True, timeout=30)
        self.workdir = workdir

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        flavour = {"core": 2, "mem": 1024} if changed else {"core": 1, "mem": 512}
        machines = [{"roles": ["server"], "cluster": "parasilo", "number": 2, "nodes": 1,
                     "flavour_desc": flavour}]
        if size == "grown":
            machines.append({"roles": ["client"], "cluster": "gros", "number": 1,
                             "nodes": 1})
        section = {"type": "vmong5k", "walltime": "01:00:00", "key": str(self.key),
                   "image": str(self.image), "working_dir": str(self.workdir / name),
                   "resources": {"machines": machines}}
        return {"name": name, "providers": {"vms": section}}

    def environment(self) -> dict[str, str]:
        return {"BEDFORM_G5K_CONFIG": str(self.config), "SSH_AUTH_SOCK": self.agent}

    def input_change(self) -> InputChange:
        return InputChange("the flavour of the rennes VMs",
                           frozenset({"vms.vm[0/0]", "vms.vm[0/1]", "vms.domains[0/0]"}))

    def adoptable(self) -> str:
        return "vms.job[rennes]"

    def _domains(self, nodes: list[str]) -> dict[str, list[str]]:
        """Domains defined on `nodes` (deployed ones: root logs in with the stack key)."""
        assert self.emulator.box is not None
        jump = {"gateway": self.emulator.box.access, "gateway_user": USER}
        hosts = [Host(n, alias=n, user="root", extra=jump) for n in nodes]
        results = run(hosts, "virsh list --all --name", check=False, timeout=30)
        found: dict[str, list[str]] = {}
        for node, result in results.items():
            if result.ok:
                for name in result.stdout.split():
                    found.setdefault(f"domain[{name}]", []).append(node)
        return found

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """Live jobs named after the stack per site, and the domains on their nodes."""
        out: dict[str, list[str]] = {}
        nodes: list[str] = []
        for site in SITES:
            jobs = self._jobs(site, stack.name)
            out[f"job[{site}]"] = [str(job["uid"]) for job in jobs]
            for job in jobs:
                detail = requests.get(f"{self.emulator.url}/sites/{site}/jobs/{job['uid']}",
                                      auth=(USER, self.emulator.users[USER]), timeout=10)
                nodes += detail.json().get("assigned_nodes", [])
        out.update(self._domains(sorted(set(nodes))))
        return out

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        keys: dict[str, str] = {}
        for address, record in state["resources"].items():
            if record["kind"] == "g5k_job":
                keys[f"job[{record['inputs']['site']}]"] = address
            elif record["kind"] == "vmong5k_domains":
                for name in record.get("attributes", {}).get("domains") or {}:
                    keys[f"domain[{name}]"] = address
        return keys

    def verify(self, stack: ConformanceStack) -> None:
        """Every VM answers SSH at its own address, through `output`'s ssh config."""
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
        """The G5k harness's breakage of the rennes job: everything on it goes too."""
        reason = super().break_object(stack, how).reason
        return Breakage(frozenset({"vms.job[rennes]", "vms.deployment[rennes/prod-rennes]",
                                   "vms.hypervisor[0/0]", "vms.domains[0/0]",
                                   "vms.vm[0/0]", "vms.vm[0/1]"}), reason)

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        left = {key: ids for key, ids in self.owned(stack).items() if ids}
        for key, uids in left.items():
            if key.startswith("job["):
                for uid in uids:
                    self._kill(key[4:-1], uid)
        return left
