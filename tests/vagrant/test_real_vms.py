"""Real VMs: vagrant + vagrant-libvirt + libvirt under QEMU TCG, on isolated networks.

Needs root and the host set-up (`sudo bash scripts/vagrant-host.sh` then
`sudo bash scripts/vagrant-box.sh`); run with `pytest -m vagrant tests/vagrant`.
Each `vagrant up` costs minutes here (no usable KVM), so one test walks the whole life
of one stack: apply, reach, reload, drift, repair, destroy. It prints its timings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from bedform import Vagrant, VagrantConf
from bedform.inventory import ssh_config
from bedform.planner.diff import Action
from bedform.providers.vagrant import libvirt
from bedform.providers.vagrant.client import VagrantClient
from bedform.providers.vagrant.config import DEFAULT_BOX
from bedform.providers.vagrant.driver import box_added

pytestmark = pytest.mark.vagrant


def _host_problem() -> str:
    if os.geteuid() != 0:
        return "needs root (libvirt qemu:///system)"
    for program, fix in (("vagrant", "scripts/vagrant-host.sh"),
                         ("virsh", "scripts/vagrant-host.sh")):
        if shutil.which(program) is None:
            return f"{program} is missing: run sudo bash {fix}"
    done = subprocess.run(["virsh", "-c", libvirt.URI, "version"], capture_output=True,
                          timeout=30)
    if done.returncode != 0:
        return "libvirtd is not running: run sudo bash scripts/vagrant-host.sh"
    if not box_added(DEFAULT_BOX):
        return f"box {DEFAULT_BOX} is not added: run sudo bash scripts/vagrant-box.sh"
    return ""


@pytest.fixture(scope="module")
def host_ready(request: pytest.FixtureRequest) -> None:
    if "vagrant" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("real-VM test (minutes): select it with `pytest -m vagrant`")
    problem = _host_problem()
    if problem:
        pytest.skip(f"real-VM test: {problem}")


def libvirt_inventory() -> dict[str, list[str]]:
    return {"domains": sorted(libvirt.domains()), "networks": sorted(libvirt.networks()),
            "volumes": sorted(libvirt.volumes())}


def ssh(config: Path, alias: str, command: str) -> str:
    done = subprocess.run(["ssh", "-F", str(config), "-o", "ConnectTimeout=20",
                           "-o", "BatchMode=yes", alias, command],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"ssh {alias} {command!r}: {done.stdout}{done.stderr}"
    return done.stdout


class Calls:
    """Counts the vagrant commands the provider runs (wraps the client's methods)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[str] = []
        for method in ("status", "up", "ssh_config", "destroy"):
            original = getattr(VagrantClient, method)
            monkeypatch.setattr(VagrantClient, method, self._wrap(method, original))

    def _wrap(self, method, original):
        def wrapper(client, *args, **kwargs):
            self.seen.append(method if method != "up" else f"up {' '.join(args[0])}")
            return original(client, *args, **kwargs)
        return wrapper

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


def test_two_vms_life(host_ready, tmp_path, monkeypatch):
    timings: dict[str, float] = {}
    before = libvirt_inventory()
    conf = (VagrantConf.from_settings(name_prefix="bft", management_cidr="192.168.214.0/24")
            .add_machine(roles=["server"], flavour="tiny")
            .add_machine(roles=["client"], flavour="tiny")
            .add_network(cidr="192.168.213.0/24", roles=["private"]).finalize())
    provider = Vagrant(conf, name=f"vt{uuid.uuid4().hex[:6]}", state_dir=tmp_path / "state")
    calls = Calls(monkeypatch)
    config = tmp_path / "ssh-config"
    try:
        started = time.monotonic()
        roles, networks = provider.init()
        timings["apply (2 VMs)"] = time.monotonic() - started
        ups = [c for c in calls.take() if c.startswith("up")]
        assert ups == ["up bft-0 bft-1"], ups          # one batch, VMs booted in parallel
        server, client = roles["server"][0], roles["client"][0]
        assert (server.alias, client.alias) == ("bft-0", "bft-1")
        assert [str(n.network) for n in networks["private"]] == ["192.168.213.0/24"]
        config.write_text(ssh_config(roles, include_user_config=False))
        for host, peer in ((server, "192.168.213.244"), (client, "192.168.213.245")):
            assert ssh(config, host.alias, "hostname").strip() == host.alias
            ssh(config, host.alias, f"ping -c 2 -W 5 {peer}")
            routes = ssh(config, host.alias, "ip route")
            assert "default" not in routes, routes

        started = time.monotonic()
        provider.init()
        timings["no-op reload"] = time.monotonic() - started
        assert calls.take() == ["status"]

        domain = f"{provider_domain_prefix(provider)}bft-1"
        libvirt.virsh("destroy", domain)
        plan = provider.plan()
        assert [(c.address, c.action) for c in plan.actionable] == [
            (f"{provider.name}.machine[bft-1]", Action.UPDATE)]
        started = time.monotonic()
        provider.init()
        timings["repair of 1 VM stopped outside"] = time.monotonic() - started
        assert [c for c in calls.take() if c.startswith("up")] == ["up bft-1"]
        ssh(config, "bft-1", "ping -c 2 -W 5 192.168.213.245")
    finally:
        started = time.monotonic()
        provider.destroy()
        timings["destroy"] = time.monotonic() - started
        print("\nTIMINGS " + ", ".join(f"{k}: {v:.1f} s" for k, v in timings.items()))
    assert libvirt_inventory() == before


def provider_domain_prefix(provider: Vagrant) -> str:
    vagrantfile = (provider.state_dir / "providers" / provider.name / "Vagrantfile").read_text()
    line = next(line for line in vagrantfile.splitlines() if "lv.default_prefix" in line)
    return line.split('"')[1]
