"""One VMonG5k VM boots as a real QEMU guest under real libvirt and answers SSH.

This machine plays a Grid'5000 node: bedform's own node scripts (`setup_script`, then the
batch of `domains_script`) run here with the real `virsh`, with the domain XML that the
VMonG5k kinds render (`domain_spec`) from a configuration. The base image is the offline
Debian box's disk (scripts/vagrant-box.sh); each VM disk is a qcow2 overlay of it. The
VM's NIC joins an isolated bridge on which dnsmasq hands out, as Grid'5000's DHCP does,
the address bedform derives from the MAC. The guest is reached over SSH at that address.

Where this machine differs from a real node, documented options adapt the domain:
`domain_type: qemu` (TCG: /dev/kvm here cannot run a stock kernel), `direct_boot` (the
box image has no boot loader: its kernel and initrd are booted directly) and `bridge`
(the node's bridge, here one the test makes instead of br0 over the machine's NIC).
The box image carries the `vagrant` user with Vagrant's well-known insecure key.

Needs root and the host set-up; run with `pytest -m vmong5k_real tests/vmong5k`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedform.providers.vagrant import libvirt
from bedform.providers.vmong5k import domain
from bedform.providers.vmong5k.config import VMonG5kConf
from bedform.providers.vmong5k.kinds import domain_spec
from tests.vagrant.realhost import libvirt_inventory, require_real_host

pytestmark = pytest.mark.vmong5k_real

BOX_DIR = Path(os.environ.get("BOX_DIR", "/var/tmp/bedform-vagrant-box"))
SUBNET = "10.213.4.0/22"
"""The VM subnet (a G5k /22 shape); this machine holds its first address on the bridge."""
HOST_ADDRESS = "10.213.4.1/22"
BOOT_DEADLINE = 900.0
"""Bounded wait for SSH: the guest boots in 1-2 min under TCG, more on a loaded machine."""


@pytest.fixture(scope="module")
def host_ready(request: pytest.FixtureRequest) -> None:
    require_real_host(request, "vmong5k_real", need_vagrant=False,
                      files=[BOX_DIR / "box.img", BOX_DIR / "vmlinuz", BOX_DIR / "initrd.img"])
    if shutil.which("dnsmasq") is None:
        pytest.fail("dnsmasq is missing: run sudo bash scripts/vagrant-host.sh")


def run(*command: str, timeout: float = 120) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    return done.stdout


def as_node(script: str, timeout: float = 300) -> str:
    """Run one of bedform's node scripts here, as its SSH session would on a node."""
    env = {k: v for k, v in os.environ.items() if k != "LIBVIRT_DEFAULT_URI"}
    env["LIBVIRT_DEFAULT_URI"] = libvirt.URI
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
    assert done.returncode == 0, f"node script failed:\n{script}\n{done.stderr}"
    return done.stdout


@contextlib.contextmanager
def isolated_bridge(work: Path, bridge: str, hosts: dict[str, str]) -> Iterator[None]:
    """Bridge `bridge` with this machine at HOST_ADDRESS and dnsmasq giving each MAC of
    `hosts` its address (no gateway, no DNS: nothing is routed off the bridge)."""
    hosts_file = work / "dhcp.hosts"
    hosts_file.write_text("".join(f"{mac},{ip}\n" for mac, ip in hosts.items()))
    pid_file = work / "dnsmasq.pid"
    run("ip", "link", "add", bridge, "type", "bridge")
    try:
        run("ip", "addr", "add", HOST_ADDRESS, "dev", bridge)
        run("ip", "link", "set", bridge, "up")
        net = SUBNET.split("/")[0]
        run(shutil.which("dnsmasq") or "dnsmasq", "--conf-file=/dev/null", "--port=0",
            "--user=root", "--group=root", f"--interface={bridge}", "--bind-interfaces",
            "--except-interface=lo", f"--dhcp-range={net},static,255.255.252.0",
            f"--dhcp-hostsfile={hosts_file}", f"--dhcp-leasefile={work / 'dhcp.leases'}",
            f"--pid-file={pid_file}", "--dhcp-option=3", "--dhcp-option=6",
            "--dhcp-authoritative")
        yield
    finally:
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, timeout=30,
                       check=False)


def insecure_key(work: Path) -> Path:
    """Vagrant's well-known insecure private key (the box's `vagrant` user takes it)."""
    found = sorted(glob.glob("/usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant"))
    assert found, "vagrant's insecure key is missing: run sudo bash scripts/vagrant-host.sh"
    key = work / "vagrant.key"
    shutil.copyfile(found[0], key)
    key.chmod(0o600)
    return key


def wait_for_ssh(key: Path, ip: str) -> tuple[float, str]:
    """Seconds until `ssh vagrant@ip` answers, and its answer (bounded wait)."""
    started = time.monotonic()
    last = ""
    while time.monotonic() - started < BOOT_DEADLINE:
        done = subprocess.run(
            ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", f"vagrant@{ip}",
             "cat /sys/class/net/eth0/address; ip -4 -o addr show dev eth0; ip route"],
            capture_output=True, text=True, timeout=60, check=False)
        if done.returncode == 0:
            return time.monotonic() - started, done.stdout
        last = done.stderr.strip()
        time.sleep(5)
    raise AssertionError(f"no SSH answer from {ip} within {BOOT_DEADLINE:g} s: {last}")


def test_a_vm_boots_from_the_rendered_xml_and_answers_ssh(host_ready, tmp_path):
    work = Path(f"/var/tmp/bedform-vmong5k-real-{uuid.uuid4().hex[:8]}")
    work.mkdir(mode=0o711)
    before = libvirt_inventory()
    timings: dict[str, float] = {}
    name = ""
    try:
        bridge = f"bfmg{uuid.uuid4().hex[:6]}"
        conf = VMonG5kConf.from_dictionary({
            "domain_type": "qemu", "bridge": bridge, "image": str(BOX_DIR / "box.img"),
            "working_dir": str(work / "wd"),
            "direct_boot": {"kernel": str(BOX_DIR / "vmlinuz"),
                            "initrd": str(BOX_DIR / "initrd.img"),
                            "cmdline": "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet"},
            "resources": {"machines": [{"roles": ["vm"], "cluster": "parasilo",
                                        "flavour": "tiny"}]}})
        machine = conf.machines[0]
        common: dict[str, Any] = {      # what VMonG5kDriver.expand gives the VM kinds
            "subnets": [SUBNET], "skip": conf.skip, "working_dir": conf.working_dir,
            "domain_type": conf.domain_type, "strategy": conf.strategy, "key": "",
            "bridge": conf.bridge, "direct_boot": conf.direct_boot}
        spec = domain_spec({"slot": 0, "flavour": {"core": machine.core,
                                                   "mem": machine.mem}}, common)
        name, ip, mac = spec["name"], spec["ip"], spec["mac"]
        assert (name, ip, mac) == ("virtual-213-4-2", "10.213.4.2", "00:16:3e:d5:04:02")

        with isolated_bridge(work, bridge, {mac: ip}):
            started = time.monotonic()
            # the hypervisor set-up: the bridge exists, so no NIC is moved; image copied
            as_node(domain.setup_script(working_dir=conf.working_dir, image=conf.image,
                                        bridge=bridge))
            as_node(domain.domains_script(working_dir=conf.working_dir, create=[spec]))
            timings["set-up + define + start"] = time.monotonic() - started
            assert domain.parse_list(as_node(domain.LIST_COMMAND))[name] == "running"
            backing = run("qemu-img", "info", "-U", "--output=json", spec["disk"])
            assert domain.BASE_IMAGE in backing           # a copy-on-write overlay

            waited, answer = wait_for_ssh(insecure_key(work), ip)
            timings["boot until SSH answers"] = waited
            seen_mac, address, *routes = answer.splitlines()
            assert seen_mac == mac
            assert f"inet {ip}/22" in address             # the DHCP answer of the MAC
            assert not [r for r in routes if r.startswith("default")], routes
            leases = (work / "dhcp.leases").read_text()
            assert f"{mac} {ip} " in leases

            # a second run of the same batch changes nothing (the node script resumes)
            as_node(domain.domains_script(working_dir=conf.working_dir, create=[spec]))
            listing = domain.parse_list(as_node(domain.LIST_COMMAND))
            assert [d for d in listing if d == name] == [name]

            started = time.monotonic()
            as_node(domain.domains_script(working_dir=conf.working_dir, create=[],
                                          remove=[name]))
            timings["destroy + undefine"] = time.monotonic() - started
            assert name not in domain.parse_list(as_node(domain.LIST_COMMAND))
            assert not Path(spec["disk"]).exists()
    finally:
        if name and name in libvirt.domains():
            libvirt.virsh("destroy", name, check=False)
            libvirt.virsh("undefine", name, check=False)
        shutil.rmtree(work, ignore_errors=True)
        print("\nTIMINGS " + ", ".join(f"{k}: {v:.1f} s" for k, v in timings.items()))
    assert libvirt_inventory() == before
