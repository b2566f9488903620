"""The Grid'5000 box on its own: nodes appear with running jobs, answer SSH through the
access frontend, are re-created by deployments (primary NIC in a kavlan included), break
and come back through the controls, leave with their job; a box killed with SIGKILL is
purged by the next start with its id; `bedform emulate g5k --box` serves one; a global
kavlan joins nodes of two sites."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from grid5000 import Grid5000

from bedform import machines
from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.box import purge
from bedform.emulators.g5k.testing import (  # noqa: F401
    TEST_EPOCH,
    TEST_USERS,
    g5k_box_factory,
)
from bedform.machines import netlink

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")


@pytest.fixture
def box(g5k_box_factory: Callable[..., G5kEmulator]) -> G5kEmulator:  # noqa: F811
    """A box on a frozen clock (time moves with `advance`), purged by its id at the end."""
    return g5k_box_factory(speed=0.0, epoch=TEST_EPOCH, deploy_seconds=60.0)


def ssh(emu: G5kEmulator, user: str, host: str, command: str,
        key: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`command` on `host` as `user`, jumping through the access frontend as alice."""
    assert emu.box is not None
    alice = emu.box.user_key("alice")
    options = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
               "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o",
               "ConnectTimeout=5"]
    jump = " ".join(["ssh", "-i", str(alice), *options, "-W", "%h:%p",
                     f"alice@{emu.box.access}"])
    return subprocess.run(["ssh", "-i", str(key or alice), *options,
                           "-o", f"ProxyCommand={jump}", f"{user}@{host}", command],
                          capture_output=True, text=True, timeout=60)


def control(emu: G5kEmulator, method: str, path: str) -> Any:
    request = urllib.request.Request(f"{emu.base_url}/_emulator/box{path}", method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def netns_exists(name: str) -> bool:
    return os.path.ismount(netlink.netns_path(name))


def test_nodes_follow_jobs_deployments_and_controls(box: G5kEmulator) -> None:
    assert box.box is not None
    client = Grid5000(**box.client_config("alice"))
    site = client.sites["rennes"]
    job = site.jobs.create({
        "resources": "slash_22=1+{cluster='paradoxe'}/nodes=2,walltime=1:00:00",
        "command": "sleep 3600"})
    job.refresh()
    assert job.state == "running"
    node, other = job.assigned_nodes
    listed = control(box, "GET", "")
    assert sorted(h["name"] for h in listed["hosts"]) == sorted([node, other])
    names = subprocess.run(["ip", "netns", "exec", box.box.plan.box_netns, "getent", "hosts",
                            node], capture_output=True, text=True, timeout=10)
    assert names.stdout.split()[:2] == [str(box.box.plan.nodes[node].prod.ip), node]
    result = ssh(box, "alice", node, "id -un; hostname; sudo-g5k id -u")
    assert result.stdout.split() == ["alice", node.split(".")[0], "0"], result.stderr
    result = ssh(box, "alice", node, "cat /etc/bedform-environment")
    assert result.returncode != 0  # no deployment: the standard environment
    result = ssh(box, "bob", node, "true", key=box.box.user_key("bob"))
    assert result.returncode == 255, "only the job's owner logs in to its nodes"
    # An address of the job's /22 (a VM's) on one node is reached from the other one.
    subnet = site.jobs[job.uid].resources_by_type["subnets"][0]
    vm = subnet.split("/")[0].rsplit(".", 1)[0] + ".10"
    nic = box.box.plan.nodes[node].primary.name
    assert ssh(box, "alice", node, f"sudo-g5k ip addr add {vm}/32 dev {nic}").returncode == 0
    result = ssh(box, "alice", other, f"timeout 3 bash -c '</dev/tcp/{vm}/22' && echo open")
    assert result.stdout.strip() == "open", result.stderr

    # A deploy job with its primary NIC in a routed kavlan: kadeploy re-creates the node
    # with the deployment's key for root, reachable as <node>-kavlan-<id>.
    deploy = site.jobs.create({
        "resources": "{type='kavlan'}/vlan=1+{cluster='parasilo'}/nodes=2,walltime=1:00:00",
        "command": "sleep 3600", "types": ["deploy"]})
    deploy.refresh()
    vlan = site.jobs[deploy.uid].resources_by_type["vlans"][0]
    broken, healthy = deploy.assigned_nodes
    control(box, "POST", f"/nodes/{broken}/break")
    assert ssh(box, "alice", broken, "true").returncode != 0
    root_key = box.box.user_key("alice").with_suffix(".pub").read_text()
    deployment = site.deployments.create({"nodes": deploy.assigned_nodes,
                                          "environment": "debian12-min", "key": root_key,
                                          "vlan": vlan})
    box.advance(61)
    deployment.refresh()
    assert deployment.status == "terminated"
    assert deployment.result[broken]["state"] == "KO"
    assert deployment.result[healthy]["state"] == "OK"
    kavlan_name = healthy.replace(".", f"-kavlan-{vlan}.", 1)
    result = ssh(box, "root", kavlan_name, "cat /etc/bedform-environment; id -u; ip -br -4 a")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["debian12-min", "0"]
    network = box.testbed.ref.sites["rennes"]["kavlans"][vlan]["network"]
    assert network.rsplit(".", 2)[0] in result.stdout, result.stdout
    view = control(box, "GET", "")
    assert view["broken"] == [broken]
    hosts = {h["name"]: h for h in view["hosts"]}
    assert hosts[healthy]["environment"] == "debian12-min"
    assert vlan in hosts[healthy]["nics"].values()

    control(box, "POST", f"/nodes/{broken}/repair")
    assert ssh(box, "alice", broken, "true").returncode == 0

    # A killed job takes its node away; the box's teardown removes everything.
    netns = box.box.plan.node_netns(node)
    assert netns_exists(netns)
    job.delete()
    site.jobs[job.uid]  # any request reconciles
    assert not netns_exists(netns)
    removed = control(box, "DELETE", "")["removed"]
    assert box.box.plan.box_netns in removed["namespaces"]
    assert not any(machines.leftovers(box.box.plan.ns_prefix, box.box.plan.root_link,
                                      "/run/bedform/uts").values())


def emulate_box(box_id: str, config: Path, *options: str) -> subprocess.Popen[str]:
    """`bedform emulate g5k --box` in a subprocess, once its configuration is written
    (bounded: 30 s)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bedform.cli", "emulate", "g5k", "--box", "--box-id", box_id,
         "--write-config", str(config), *options],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not config.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    return process


def test_emulate_box_cli_then_sigkill_is_purged_by_the_next_start(tmp_path: Path) -> None:
    config = tmp_path / "g5k.yaml"
    box_id = f"{os.getpid() & 0xFFFF:04x}b0c5"
    process = emulate_box(box_id, config, "--speed", "0", "--launch-seconds", "0")
    prefix = f"g5kbox-{box_id}-"
    try:
        settings = yaml.safe_load(config.read_text())
        assert settings["gateway"].startswith("198.19.")
        client = Grid5000(**{k: v for k, v in settings.items() if k != "gateway"})
        job = client.sites["nancy"].jobs.create({"resources": "nodes=2",
                                                 "command": "sleep 3600"})
        job.refresh()
        assert job.state == "running"
    finally:
        process.kill()  # SIGKILL: no teardown
        process.wait(timeout=10)
    left = machines.leftovers(prefix, f"gb{box_id}", "/run/bedform/uts")
    try:
        assert len(left["namespaces"]) == 3 and left["links"] == [f"gb{box_id}"]
        with G5kEmulator(users={"alice": "pw"}, speed=0, box=True, box_id=box_id) as emu:
            assert emu.box is not None
            now = machines.leftovers(prefix, f"gb{box_id}", "/run/bedform/uts")
            assert now["namespaces"] == [emu.box.plan.box_netns]
        assert not any(machines.leftovers(prefix, f"gb{box_id}", "/run/bedform/uts").values())
    finally:
        purge(box_id)


def test_sigterm_tears_the_box_down(tmp_path: Path) -> None:
    config = tmp_path / "g5k.yaml"
    box_id = f"{os.getpid() & 0xFFFF:04x}5e7e"
    process = emulate_box(box_id, config)
    try:
        assert config.exists()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        found = purge(box_id)
    assert f"box {box_id}: access frontend" in output
    assert not any(found.values()), found


def test_a_global_kavlan_joins_nodes_of_two_sites(box: G5kEmulator) -> None:
    assert box.box is not None
    client = Grid5000(**box.client_config("alice"))
    rennes = client.sites["rennes"].jobs.create({
        "resources": "{type='kavlan-global'}/vlan=1+{cluster='parasilo'}/nodes=1",
        "command": "sleep 3600"})
    nancy = client.sites["nancy"].jobs.create({"resources": "{cluster='gros'}/nodes=1",
                                              "command": "sleep 3600"})
    rennes.refresh()
    nancy.refresh()
    vid = client.sites["rennes"].jobs[rennes.uid].resources_by_type["vlans"][0]
    network = box.testbed.ref.sites["rennes"]["kavlans"][vid]["network"]
    nodes = {"rennes": rennes.assigned_nodes[0], "nancy": nancy.assigned_nodes[0]}
    addresses = {}
    for site, node in nodes.items():
        answer = requests.post(f"{box.url}/sites/{site}/vlans/{vid}/nodes",
                               json=[node.replace(".", "-eth1.", 1)],
                               auth=("alice", TEST_USERS["alice"]), timeout=30)
        assert answer.status_code == 200, answer.text
        result = ssh(box, "alice", node, "sudo-g5k sh -c 'ip link set eno2 up; "
                     "dhclient -1 eno2' && ip -br -4 a show dev eno2")
        assert result.returncode == 0, result.stderr
        found = re.search(r"UP\s+([\d.]+)/", result.stdout)
        assert found and ipaddress.ip_address(found[1]) in ipaddress.ip_network(network), \
            result.stdout
        addresses[site] = found[1]
    result = ssh(box, "alice", nodes["rennes"],
                 f"timeout 3 bash -c '</dev/tcp/{addresses['nancy']}/22' && echo open")
    assert result.stdout.strip() == "open", result.stderr
