"""The conformance harness of the vagrant provider: real VMs through vagrant-libvirt.

The small stack is one VM (role `a`) on one isolated private network; grown, two VMs.
What a stack owns is listed in libvirt by the prefix the driver gives its objects
(`bf-<digest of the stack id>-`): domains, networks and the VMs' disk volumes, each under
its libvirt UUID or path, plus the Vagrantfile (by inode). Each stack takes its own /24s
(libvirt refuses two active networks on one cidr).
"""

from __future__ import annotations

import ipaddress
import random
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bedform.conformance import Breakage, ConformanceStack, Harness, InputChange, Size
from bedform.providers.vagrant import libvirt

#: where the stacks of this harness take their /24 networks
POOL = ipaddress.ip_network("10.215.0.0/16")


class VagrantHarness(Harness):
    """Provider `vms`: VM `cf-0` of role `a` (grown: and `cf-1`, role `a`), network
    `lan`; the change edits `config_extra` (the Vagrantfile alone is updated in place,
    no VM is touched)."""

    name = "vagrant"
    breakages = ("deleted",)
    crash_rounds = 1
    crash_points = 3
    run_timeout = 1800.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cidrs: dict[str, list[str]] = {}
        self.prefixes: dict[str, str] = {}

    def _cidrs(self, stack: str) -> list[str]:
        """Two free /24s of the pool for `stack` (management, lan)."""
        if stack not in self.cidrs:
            shown = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True,
                                   text=True, timeout=30, check=True).stdout
            busy = [ipaddress.ip_interface(f.split()[3]).network
                    for f in shown.splitlines() if len(f.split()) > 3]
            busy += [ipaddress.ip_network(c) for cidrs in self.cidrs.values() for c in cidrs]
            free = [s for s in random.sample(list(POOL.subnets(new_prefix=24)), 64)
                    if not any(s.overlaps(b) for b in busy)]
            self.cidrs[stack] = [str(s) for s in free[:2]]
        return self.cidrs[stack]

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        management, lan = self._cidrs(name)
        extra = "# conformance: changed\n" if changed else ""
        machines = [{"roles": ["a"], "flavour": "tiny"}]
        if size == "grown":
            # a second group of role `a` (EnOSlib names a group of one VM `cf-0` and a
            # group of two `cf-0-1`, `cf-0-2`: growing that group would rename its VM)
            machines.append({"roles": ["a"], "flavour": "tiny"})
        return {"name": name, "providers": {"vms": {
            "type": "vagrant", "name_prefix": "cf", "management_cidr": management,
            "config_extra": extra,
            "resources": {"machines": machines,
                          "networks": [{"cidr": lan, "roles": ["lan"]}]}}}}

    def input_change(self) -> InputChange:
        return InputChange("config_extra (the Vagrantfile's text)",
                           frozenset({"vms.vagrantfile[main]"}))

    def adoptable(self) -> str:
        return "vms.network[management]"

    def _prefix(self, stack: ConformanceStack) -> str | None:
        """`bf-<digest>-`, read from the state once it records a network; kept for after
        the destroy."""
        if stack.name not in self.prefixes:
            for record in stack.state()["resources"].values():
                if record["kind"] == "vagrant_network":
                    sid = record["inputs"]["name"].split("-")[1]
                    self.prefixes[stack.name] = f"bf-{sid}-"
                    break
        return self.prefixes.get(stack.name)

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        prefix = self._prefix(stack)
        if prefix is None:
            return {}
        out: dict[str, list[str]] = {}
        for domain in libvirt.domains():
            if domain.startswith(prefix):
                out[f"domain:{domain}"] = [libvirt.virsh("domuuid", domain).strip()]
        for network in libvirt.networks():
            if network.startswith(prefix):
                uuid = libvirt.virsh("net-uuid", network).strip()
                out[f"network:{network}"] = [uuid]
        for volume in libvirt.volumes():
            if volume.startswith(prefix):
                out[f"volume:{volume}"] = [libvirt.virsh("vol-key", "--pool", libvirt.POOL,
                                                         volume).strip()]
        vagrantfile = stack.root / ".bedform" / "providers" / "vms" / "Vagrantfile"
        if vagrantfile.exists():
            out[f"file:{vagrantfile}"] = [str(vagrantfile.stat().st_ino)]
        return out

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        out = {}
        for address, record in state["resources"].items():
            inputs = record["inputs"]
            if record["kind"] == "vagrant_machine":
                out[f"domain:{inputs['domain']}"] = address
                out[f"volume:{inputs['domain']}.img"] = address
            elif record["kind"] == "vagrant_network":
                out[f"network:{inputs['name']}"] = address
            elif record["kind"] == "vagrant_file":
                out[f"file:{inputs['path']}"] = address
        return out

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        """The VM's domain removed with its disk behind vagrant's back (`virsh`)."""
        resources = stack.state()["resources"]
        domain = resources["vms.machine[cf-0]"]["inputs"]["domain"]
        libvirt.virsh("destroy", domain)
        libvirt.virsh("undefine", domain, "--remove-all-storage")
        return Breakage(frozenset({"vms.machine[cf-0]"}), "is not created")

    def verify(self, stack: ConformanceStack) -> None:
        """Every VM answers over ssh with its own name, through `output`'s config."""
        config = stack.root / "ssh_config"
        config.write_text(stack.ok("output", "--format", "ssh-config").output)
        hosts, _ = stack.inventory()
        assert hosts, "no host in the inventory"
        for alias in hosts:
            result = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes",
                                     "-o", "ConnectTimeout=20", alias, "hostname"],
                                    capture_output=True, text=True, timeout=120, check=False)
            assert result.stdout.strip() == alias, f"ssh {alias}: {result.stderr}"

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """Whatever libvirt still holds under the stack's prefix, removed."""
        left = {key: ids for key, ids in self.owned(stack).items()
                if not key.startswith("file:")}
        for key in left:
            kind, name = key.split(":", 1)
            if kind == "domain":
                libvirt.delete_domain(name)
            elif kind == "network":
                libvirt.delete_network(name)
        for key in left:
            kind, name = key.split(":", 1)
            if kind == "volume" and name in libvirt.volumes():
                libvirt.delete_volume(name)
        return left
