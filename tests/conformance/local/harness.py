"""The conformance harness of the local provider: real network namespaces, bridges,
veths and sshd on this machine (root). What a stack owns is found by the names the
driver gives its objects (`bf-<stack id>-...`), whatever its state says."""

from __future__ import annotations

import ipaddress
import os
import random
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bedform import machines as system
from bedform.conformance import Breakage, ConformanceStack, Harness, InputChange, Size
from bedform.machines import netlink
from bedform.providers.local import cleanup

#: where the stacks of this harness take their /24 networks (other tests use 198.18/16)
POOL = ipaddress.ip_network("198.19.0.0/16")


class LocalHarness(Harness):
    """Hosts `a` (1, grown 2) on network `lan`, and `b` (1) on `lan` and `admin`; the
    change moves `admin` to another cidr."""

    name = "local"
    breakages = ("deleted", "killed")
    crash_points = 8

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cidrs: dict[str, list[str]] = {}
        self.sids: dict[str, str] = {}

    def _cidrs(self, stack: str) -> list[str]:
        """Three free /24 of the pool for `stack` (lan, admin, admin once changed)."""
        if stack not in self.cidrs:
            root, _, _ = netlink.observe(root=True)
            busy = [ipaddress.ip_interface(a).network for a in root.all_addresses()]
            busy += [ipaddress.ip_network(c) for cidrs in self.cidrs.values() for c in cidrs]
            subnets = list(POOL.subnets(new_prefix=24))
            free = [s for s in random.sample(subnets, 64)
                    if not any(s.overlaps(b) for b in busy)]
            self.cidrs[stack] = [str(s) for s in free[:3]]
        return self.cidrs[stack]

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        lan, admin, moved = self._cidrs(name)
        machines = [{"roles": ["a"], "number": 2 if size == "grown" else 1,
                     "networks": ["lan"]},
                    {"roles": ["b"], "number": 1, "networks": ["lan", "admin"]}]
        networks = [{"id": "lan", "cidr": lan},
                    {"id": "admin", "cidr": moved if changed else admin}]
        return {"name": name, "providers": {"here": {
            "type": "local", "resources": {"machines": machines, "networks": networks}}}}

    def input_change(self) -> InputChange:
        return InputChange("the cidr of network admin", frozenset({
            "here.bridge[admin]", "here.veth[b-1/admin]", "here.sshd[b-1]"}))

    def adoptable(self) -> str:
        return "here.host[a-1]"

    def _sid(self, stack: ConformanceStack) -> str | None:
        """The stack id in the names of its objects, read from its state once it records
        a host, and kept for after the destroy."""
        if stack.name not in self.sids:
            for record in stack.state()["resources"].values():
                if record["kind"] == "local_host":
                    self.sids[stack.name] = record["inputs"]["netns"].split("-")[1]
        return self.sids.get(stack.name)

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """Namespaces (inode), UTS files, links (index) and sshd daemons (pid) named after
        the stack; any other process in its namespaces is a key of its own."""
        sid = self._sid(stack)
        if sid is None:
            return {}
        found = cleanup.leftovers(sid)
        root, _, _ = netlink.observe(root=True)
        index = {link.name: number for number, link in root.links.items()}
        inodes = {system.ns_inode(netlink.netns_path(n)): n for n in found["namespaces"]}
        out = {f"ns:{n}": [str(inode)] for inode, n in inodes.items()}
        out.update({f"uts:{path}": [str(system.ns_inode(path))] for path in found["uts"]})
        out.update({f"link:{name}": [str(index.get(name))] for name in found["links"]})
        for pid in found["processes"]:
            command = system.cmdline(pid)
            daemon = " -f " in command  # `sshd -f <its config>`, the session ones are not
            if command.startswith("sshd:") and not daemon:
                continue  # an ssh session of a daemon
            netns = inodes.get(system.process_netns_inode(pid), "?")
            key = f"sshd:{netns}" if daemon else f"process:{pid}"
            out.setdefault(key, []).append(str(pid))
        return out

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        out = {}
        for address, record in state["resources"].items():
            inputs = record["inputs"]
            if record["kind"] == "local_host":
                out[f"ns:{inputs['netns']}"] = address
                out[f"uts:{inputs['uts']}"] = address
            elif record["kind"] in ("local_bridge", "local_veth"):
                out[f"link:{inputs['ifname']}"] = address
            elif record["kind"] == "local_sshd":
                out[f"sshd:{inputs['netns']}"] = address
        return out

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        resources = stack.state()["resources"]
        if how == "killed":
            os.kill(resources["here.sshd[b-1]"]["attributes"]["pid"], signal.SIGKILL)
            return Breakage(frozenset({"here.sshd[b-1]"}), "sshd is not running")
        netns = resources["here.host[a-1]"]["inputs"]["netns"]
        subprocess.run(["ip", "netns", "delete", netns], check=True, timeout=30)
        return Breakage(frozenset({"here.host[a-1]", "here.veth[a-1/lan]",
                                   "here.sshd[a-1]"}), "deleted outside")

    def verify(self, stack: ConformanceStack) -> None:
        """Every host answers over ssh with its own name, through `output`'s config."""
        config = stack.root / "ssh_config"
        config.write_text(stack.ok("output", "--format", "ssh-config").output)
        hosts, _ = stack.inventory()
        for alias in hosts:
            result = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes",
                                     "-o", "ConnectTimeout=5", alias, "hostname"],
                                    capture_output=True, text=True, timeout=20, check=False)
            assert result.stdout.strip() == alias, f"ssh {alias}: {result.stderr}"

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        sid = self._sid(stack)
        if sid is None:
            return {}
        found = cleanup.purge(sid)
        return {kind: [str(item) for item in items] for kind, items in found.items() if items}
