"""The G5k provider against the Grid'5000 box, through the CLI: the nodes are real SSH
hosts (network namespaces) behind the box's access frontend, so the provider's SSH steps
(dhcp on kavlan NICs, root access) and the user's commands run for real."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import (  # noqa: F401
    g5k_box_factory,
    g5k_emulator_factory,
    ssh_agent,
)
from bedform.objects import Host
from bedform.providers.g5k import G5kTunnel
from bedform.remote import run
from tests.g5k.conftest import G5kStack

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")


#: Virtual seconds per real second: a two-site stack waits for a common start (EnOSlib's
#: "now + 60 s, rounded up to the minute"), which takes 2 s of test time at this speed.
SPEED = 40.0


@pytest.fixture
def box(g5k_box_factory: Any, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> Iterator[G5kEmulator]:
    """The box on a fast clock, its client configuration, and an ssh-agent holding
    alice's box key (the provider and the generated ssh config use the user's agent, as
    on the real testbed)."""
    g5k_box_emulator = g5k_box_factory(speed=SPEED, deploy_seconds=20.0)
    path = g5k_box_emulator.write_client_config(tmp_path / "g5k.yaml", "alice")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(path))
    assert g5k_box_emulator.box is not None
    with ssh_agent([g5k_box_emulator.box.user_key("alice")], tmp_path) as agent:
        monkeypatch.setenv("SSH_AUTH_SOCK", agent)
        yield g5k_box_emulator


@pytest.fixture
def stack(tmp_path: Path, box: G5kEmulator) -> G5kStack:
    stack = G5kStack(tmp_path / "stack", box)
    assert box.box is not None
    stack.key = box.box.user_key("alice").with_suffix(".pub")
    return stack


def two_sites(**overrides: Any) -> dict[str, Any]:
    """Deploy jobs on two sites, each node with a kavlan secondary network (dhcp)."""
    section: dict[str, Any] = {
        "walltime": "01:00:00", "job_type": "deploy", "env_name": "debian12-min",
        "resources": {
            "machines": [{"roles": ["rennes"], "cluster": "parasilo", "site": "rennes",
                          "nodes": 2, "primary_network": "prod-r",
                          "secondary_networks": ["lan-r"]},
                         {"roles": ["nancy"], "cluster": "gros", "site": "nancy",
                          "nodes": 1, "primary_network": "prod-n",
                          "secondary_networks": ["lan-n"]}],
            "networks": [{"id": "prod-r", "type": "prod", "roles": ["prod"], "site": "rennes"},
                         {"id": "lan-r", "type": "kavlan", "roles": ["lan_r"],
                          "site": "rennes"},
                         {"id": "prod-n", "type": "prod", "roles": ["prod"], "site": "nancy"},
                         {"id": "lan-n", "type": "kavlan", "roles": ["lan_n"],
                          "site": "nancy"}]}}
    section.update(overrides)
    return section


def ssh(config: Path, host: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", host, command],
                          capture_output=True, text=True, timeout=60)


def reach(address: str) -> str:
    """A command that succeeds when `address` answers on its SSH port (no ping needed)."""
    return f"timeout 3 bash -c '</dev/tcp/{address}/22'"


def access_logins(emu: G5kEmulator) -> int:
    """SSH sessions the access frontend accepted so far."""
    assert emu.box is not None
    log = emu.box.dir / "hosts" / emu.box.plan.box_netns / "sshd.log"
    return log.read_text().count("Accepted publickey")


def test_deploy_kavlan_dhcp_and_expiry_through_the_cli(stack: G5kStack, tmp_path: Path
                                                       ) -> None:
    stack.write(**two_sites()).apply()
    config = tmp_path / "ssh_config"
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    document = json.loads(stack.run("output", "--format", "json").output)
    hosts = {role: document["roles"][role] for role in ("rennes", "nancy")}
    assert len(hosts["rennes"]) == 2 and len(hosts["nancy"]) == 1
    lan_r = next(n for n in document["networks"]["lan_r"] if n["type"] == "G5kEnosVlan4Network")
    state = stack.state()
    nic = state.resources["g5k.vlan_port[lan-r]"].attributes["interfaces"][0]
    assert "-eth1." in nic  # the plan put lan-r on the second NIC: eno2 on parasilo
    addresses = {}
    for alias in hosts["rennes"] + hosts["nancy"]:
        result = ssh(config, alias, "cat /etc/bedform-environment; ip -br -4 a")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == "debian12-min"
        addresses[alias] = dict(re.findall(r"^([^\s@]+)\S*\s+UP\s+([\d.]+)/", result.stdout,
                                                re.M))
    lan = ipaddress.ip_network(lan_r["address"] if "address" in lan_r else lan_r["cidr"])
    for alias in hosts["rennes"]:
        assert ipaddress.ip_address(addresses[alias].get("eno2", "0.0.0.0")) in lan, \
            addresses[alias]
    first, second = hosts["rennes"]
    nancy = hosts["nancy"][0]
    ping = ssh(config, first, reach(addresses[second]["eno2"]))
    assert ping.returncode == 0, ping.stdout + ping.stderr
    nancy_lan = next(a for n, a in addresses[nancy].items() if n != "eno1" and n != "lo")
    ping = ssh(config, first, reach(nancy_lan))
    assert ping.returncode != 0, "nodes of another vlan must not answer"

    # A no-op apply: no mutating request, no SSH session.
    stack.emu.clear_requests()
    logins = access_logins(stack.emu)
    assert "No changes." in stack.apply().output
    assert stack.mutations() == []
    assert access_logins(stack.emu) == logins

    # Walltime expiry: the nodes stop answering, the plan recreates the jobs and their
    # dependents, apply brings reachable nodes back.
    stack.emu.advance(3700)
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    for address in ("g5k.job[rennes]", "g5k.deployment[rennes/prod-r]", "g5k.dhcp[rennes]",
                    "g5k.job[nancy]"):
        assert address in plan.output
    assert ssh(config, first, "true").returncode != 0
    stack.apply()
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    document = json.loads(stack.run("output", "--format", "json").output)
    for alias in document["roles"]["rennes"] + document["roles"]["nancy"]:
        result = ssh(config, alias, "ip -br -4 a show dev eno2 2>/dev/null || ip -br -4 a")
        assert result.returncode == 0, result.stderr


def test_job_without_deploy_gets_root_then_remote_run_and_tunnel(stack: G5kStack) -> None:
    stack.write(walltime="01:00:00", resources={
        "machines": [{"roles": ["server"], "cluster": "paradoxe", "site": "rennes",
                      "nodes": 1, "primary_network": "prod"}],
        "networks": [{"id": "prod", "type": "prod", "roles": ["prod"], "site": "rennes"}]})
    stack.apply()
    assert stack.state().resources["g5k.root_access[rennes]"].attributes["executed"] is True
    document = json.loads(stack.run("output", "--format", "json").output)
    alias = document["roles"]["server"][0]
    host = document["hosts"][alias]
    assert host["user"] == "root"
    assert stack.emu.box is not None
    gateway = stack.emu.box.access
    assert host["extra"]["gateway"] == gateway
    target = Host(host["address"], alias=alias, user="root", extra=host["extra"])
    results = run([target], "id -u; hostname; test -e /etc/bedform-environment || echo std")
    assert results[alias].stdout.split() == ["0", alias.split(".")[0], "std"]
    with G5kTunnel(host["address"], 22) as (address, port, _tunnel), \
            socket.create_connection((address, port), timeout=10) as conn:
        assert conn.recv(8).startswith(b"SSH-")
