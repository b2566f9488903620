"""VMonG5k against the Grid'5000 box, through the CLI: 12 VMs in 2 groups on 3 nodes,
their addresses answering SSH through their node and the access frontend, batched
`virsh` sessions counted on the nodes, growth, drift and destroy."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bedform.emulators.g5k import G5kEmulator
from bedform.objects import Host
from bedform.remote import run
from tests.vmong5k.conftest import VmStack

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")]

MACHINES = [{"roles": ["server"], "cluster": "parasilo", "number": 4, "nodes": 1},
            {"roles": ["client"], "cluster": "parasilo", "number": 8, "nodes": 2,
             "flavour_desc": {"core": 1, "mem": 256}}]


def node_files(emu: G5kEmulator, node: str) -> Path:
    """The per-host directory of a box node (its sshd log, its /root)."""
    assert emu.box is not None
    return emu.box.dir / "hosts" / emu.box.plan.node_netns(node)


def sessions(emu: G5kEmulator, nodes: list[str]) -> dict[str, int]:
    """SSH sessions each node's sshd accepted so far."""
    return {n: (node_files(emu, n) / "sshd.log").read_text().count("Accepted publickey")
            for n in nodes}


def virsh_calls(emu: G5kEmulator, nodes: list[str]) -> dict[str, list[str]]:
    """Every `virsh` command each node ran so far."""
    out = {}
    for node in nodes:
        log = node_files(emu, node) / "root" / ".bedform-virsh" / "calls.log"
        out[node] = log.read_text().splitlines() if log.exists() else []
    return out


def vms(stack: VmStack) -> dict[str, dict[str, Any]]:
    """VM address → its recorded attributes."""
    return {a: r.attributes for a, r in stack.state().resources.items()
            if r.kind == "vmong5k_vm"}


def ssh(config: Path, alias: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", alias, command],
                          capture_output=True, text=True, timeout=60)


def on_node(stack: VmStack, node: str, command: str) -> str:
    jump = next(r.inputs["jump"] for r in stack.state().resources.values()
                if r.kind == "vmong5k_domains")
    result = run([Host(node, alias=node, user="root", extra=jump)], command)
    return result[node].stdout


def test_twelve_vms_on_three_nodes(stack: VmStack, tmp_path: Path) -> None:
    stack.write(MACHINES).apply()
    first = vms(stack)
    assert len(first) == 12
    nodes = sorted({a["node"] for a in first.values()})
    assert len(nodes) == 3
    # placement: round-robin over each group's sorted nodes
    per_node = {n: sum(1 for a in first.values() if a["node"] == n) for n in nodes}
    assert sorted(per_node.values()) == [4, 4, 4]
    # addresses: slot i of the subnet, skipping network and .1; MAC from the IP
    job = stack.state().resources["vms.job[rennes]"].attributes
    subnet = ipaddress.ip_network(job["subnets[subnet-rennes]"][0])
    order = [f"vms.vm[0/{k}]" for k in range(4)] + [f"vms.vm[1/{k}]" for k in range(8)]
    for slot, address in enumerate(order):
        ip = subnet.network_address + 2 + slot
        b = ip.packed
        assert first[address]["ip"] == str(ip)
        assert first[address]["mac"] == f"00:16:3e:{b[1]:02x}:{b[2]:02x}:{b[3]:02x}"
        assert first[address]["name"] == f"virtual-{b[1]}-{b[2]}-{b[3]}"

    # every VM answers SSH at its own address, through its node and the access frontend
    config = tmp_path / "ssh_config"
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    document = json.loads(stack.run("output", "--format", "json").output)
    assert len(document["roles"]["server"]) == 4 and len(document["roles"]["client"]) == 8
    for attributes in first.values():
        result = ssh(config, attributes["name"], "echo $SSH_CONNECTION")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[2] == attributes["ip"]

    # a no-op apply: one session and one `virsh list --all` per node, nothing else
    before_sessions, before_calls = sessions(stack.emu, nodes), virsh_calls(stack.emu, nodes)
    stack.emu.clear_requests()
    assert "No changes." in stack.apply().output
    assert [r for r in stack.emu.requests() if r["method"] != "GET"] == []
    after_sessions, after_calls = sessions(stack.emu, nodes), virsh_calls(stack.emu, nodes)
    for node in nodes:
        assert after_sessions[node] - before_sessions[node] == 1
        assert after_calls[node][len(before_calls[node]):] == ["list --all"]

    # growing the client group by 3: exactly 3 new VMs, none moved
    grown = [MACHINES[0], {**MACHINES[1], "number": 11}]
    before_sessions = sessions(stack.emu, nodes)
    grow = stack.write(grown).apply()
    second = vms(stack)
    assert set(second) - set(first) == {f"vms.vm[1/{k}]" for k in (8, 9, 10)}
    for address, attributes in first.items():
        assert {k: second[address][k] for k in ("node", "mac", "ip", "name")} == \
            {k: attributes[k] for k in ("node", "mac", "ip", "name")}
    new_ips = sorted(ipaddress.ip_address(second[f"vms.vm[1/{k}]"]["ip"]) for k in (8, 9, 10))
    assert new_ips == [subnet.network_address + 2 + s for s in (12, 13, 14)]
    touched = [n for n in nodes if sessions(stack.emu, [n])[n] > before_sessions[n]]
    client_nodes = {second[f"vms.vm[1/{k}]"]["node"] for k in (8, 9, 10)}
    assert set(touched) == set(nodes)  # the refresh lists every node once...
    for node in nodes:  # ...and only the nodes with new VMs run a second session
        expected = 2 if node in client_nodes else 1
        assert sessions(stack.emu, [node])[node] - before_sessions[node] == expected, \
            grow.output + repr(virsh_calls(stack.emu, nodes))

    # a VM destroyed outside bedform: the plan shows that VM alone; apply restarts it
    victim = second["vms.vm[1/3]"]
    on_node(stack, victim["node"], f"virsh destroy {victim['name']}")
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    changed = [line for line in plan.output.splitlines() if "vms." in line]
    assert changed and all("vms.vm[1/3]" in line for line in changed), plan.output
    stack.apply()
    assert on_node(stack, victim["node"], f"virsh domstate {victim['name']}").strip() \
        == "running"
    assert ssh(config, victim["name"], "true").returncode == 0

    # destroy: every domain destroyed and undefined on its node, then the job killed
    nodes_of_domains = sorted({a["node"] for a in second.values()})
    result = stack.run("destroy", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert stack.state().resources == {}
    jobs = [j for j in stack.emu.testbed.sites["rennes"].active.values()]
    assert jobs == []
    assert len(nodes_of_domains) == 3
