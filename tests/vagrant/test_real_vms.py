"""Real VMs: vagrant + vagrant-libvirt + libvirt under QEMU TCG, on isolated networks.

Needs root and the host set-up (`sudo bash scripts/vagrant-host.sh` then
`sudo bash scripts/vagrant-box.sh`); run with `pytest -m vagrant tests/vagrant`.
Each `vagrant up` costs minutes here (no usable KVM), so one test walks the whole life
of one stack: an apply SIGKILLed during `vagrant up`, the apply that converges, reach,
reload, drift, repair, destroy. It prints its timings.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bedform import Vagrant, VagrantConf
from bedform.inventory import ssh_config
from bedform.planner.diff import Action
from bedform.providers.vagrant import libvirt
from bedform.providers.vagrant.client import VagrantClient
from tests.vagrant.realhost import libvirt_inventory, require_real_host

pytestmark = pytest.mark.vagrant


@pytest.fixture(scope="module")
def host_ready(request: pytest.FixtureRequest) -> None:
    require_real_host(request, "vagrant")


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


KILLED_RUN = """
import json, sys
from bedform import Vagrant, VagrantConf
conf = VagrantConf.from_dictionary(json.loads(sys.argv[1]))
Vagrant(conf, name=sys.argv[2], state_dir=sys.argv[3]).init()
"""


def kill_during_up(provider: Vagrant, conf: VagrantConf, names: list[str]) -> str:
    """Run `provider.init()` in another process and SIGKILL it once vagrant-libvirt has
    defined every domain of `names` (their guests are booting; `vagrant up` goes on
    alone, orphaned). What the killed run left, for the test's output."""
    log = provider.state_dir.parent / "killed-run.log"
    with log.open("wb") as output:
        runner = subprocess.Popen(
            [sys.executable, "-c", KILLED_RUN, json.dumps(conf.to_dict()), provider.name,
             str(provider.state_dir)], stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline and runner.poll() is None:
            wanted = {f"{domain_prefix(provider)}{n}" for n in names}
            if wanted and wanted <= set(libvirt.domains()):
                break
            time.sleep(1)
        assert runner.poll() is None, \
            f"the run ended by itself (exit {runner.returncode}):\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "no domain was defined within 900 s"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    orphans = sorted(p.name for p in provider_dir(provider).glob("vagrant-*.pid"))
    return f"killed with domains defined; vagrant left running: {orphans}"


def test_two_vms_life(host_ready, tmp_path, monkeypatch):
    timings: dict[str, float] = {}
    before = libvirt_inventory()
    conf = (VagrantConf.from_settings(name_prefix="bft", management_cidr="192.168.214.0/24")
            .add_machine(roles=["server"], flavour="tiny")
            .add_machine(roles=["client"], flavour="tiny")
            .add_network(cidr="192.168.213.0/24", roles=["private"]).finalize())
    provider = Vagrant(conf, name=f"vt{uuid.uuid4().hex[:6]}", state_dir=tmp_path / "state",
                       echo=lambda line: print(f"  | {line}"))
    calls = Calls(monkeypatch)
    config = tmp_path / "ssh-config"
    try:
        started = time.monotonic()
        print("\nCHAOS " + kill_during_up(provider, conf, ["bft-0", "bft-1"]))
        timings["apply SIGKILLed during vagrant up"] = time.monotonic() - started

        started = time.monotonic()
        roles, networks = provider.init()
        timings["apply after the kill (2 VMs)"] = time.monotonic() - started
        ups = [c for c in calls.take() if c.startswith("up")]
        assert ups == ["up bft-0 bft-1"], ups          # one batch, VMs booted in parallel
        prefix = domain_prefix(provider)
        ours = sorted(d for d in libvirt.domains() if d.startswith(prefix))
        assert ours == [f"{prefix}bft-0", f"{prefix}bft-1"], ours     # no duplicate
        for vm in ("bft-0", "bft-1"):                  # vagrant knows the very domain
            recorded = (provider_dir(provider) / ".vagrant" / "machines" / vm / "libvirt"
                        / "id").read_text().strip()
            assert libvirt.virsh("domuuid", prefix + vm).strip() == recorded
        assert not list(provider_dir(provider).glob("vagrant-*.pid"))

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

        libvirt.virsh("destroy", f"{prefix}bft-1")
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


def provider_dir(provider: Vagrant) -> Path:
    return provider.state_dir / "providers" / provider.name


def domain_prefix(provider: Vagrant) -> str:
    """The libvirt domain prefix of the provider's Vagrantfile ("" before it exists)."""
    vagrantfile = provider_dir(provider) / "Vagrantfile"
    if not vagrantfile.exists():
        return ""
    line = next(line for line in vagrantfile.read_text().splitlines()
                if "lv.default_prefix" in line)
    return line.split('"')[1]
