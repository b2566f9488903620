"""VMonG5k against the Grid'5000 box, through the CLI: 12 VMs in 2 groups on 3 nodes,
their addresses answering SSH through their node and the access frontend, batched
`virsh` sessions counted on the nodes, growth, drift and destroy."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bedform.emulators.g5k import G5kEmulator
from bedform.objects import Host
from bedform.providers.vmong5k.domain import parse_list
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


class DomainWatch:
    """Watches the box nodes' domain definitions while a command runs: the last set of
    defined domains of each node before the node went away, and every domain seen
    destroyed and undefined (from the nodes' virsh call logs)."""

    def __init__(self, emu: G5kEmulator, nodes: list[str]) -> None:
        self.dirs = {n: node_files(emu, n) / "root" / ".bedform-virsh" for n in nodes}
        self.last: dict[str, list[str]] = {}
        self.calls: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            for node, directory in self.dirs.items():
                with contextlib.suppress(OSError):
                    defined = sorted(p.stem for p in directory.glob("*.json"))
                    calls = (directory / "calls.log").read_text().splitlines()
                    self.last[node], self.calls[node] = defined, calls

    @property
    def seen_removed(self) -> set[str]:
        lines = [line.split() for calls in self.calls.values() for line in calls]
        destroyed = {w[1] for w in lines if len(w) == 2 and w[0] == "destroy"}
        return {w[1] for w in lines if len(w) == 2 and w[0] == "undefine"} & destroyed

    def __enter__(self) -> DomainWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def ssh(config: Path, alias: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", alias, command],
                          capture_output=True, text=True, timeout=60)


def on_node(stack: VmStack, node: str, command: str,
            jump: dict[str, Any] | None = None) -> str:
    """`command`'s output on `node`, as root through the access frontend."""
    if jump is None:
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

    # destroy: the nodes' batches destroy and undefine every domain, then the job is
    # killed (and the box removes the nodes: their domain files are watched until then)
    with DomainWatch(stack.emu, nodes) as watch:
        result = stack.run("destroy", "--auto-approve")
    assert result.exit_code == 0, result.output
    for node in nodes:
        assert watch.last[node] == [], f"{node} kept domains {watch.last[node]}"
    assert watch.seen_removed == {a["name"] for a in second.values()}
    assert stack.state().resources == {}
    assert list(stack.emu.testbed.sites["rennes"].active.values()) == []

def test_flavour_change_shrink_and_expiry(stack: VmStack, tmp_path: Path) -> None:
    machines = [{"roles": ["a"], "cluster": "parasilo", "number": 2, "nodes": 1},
                {"roles": ["b"], "cluster": "parasilo", "number": 2, "nodes": 1}]
    stack.write(machines).apply()
    first = vms(stack)
    node_a, node_b = first["vms.vm[0/0]"]["node"], first["vms.vm[1/0]"]["node"]
    assert node_a != node_b

    # a new flavour for group a: its VMs replaced, their node's batch redefines them
    # alone; group b is not touched beyond the refresh's listing
    bigger = [{**machines[0], "flavour_desc": {"core": 2, "mem": 1024}}, machines[1]]
    stack.write(bigger)
    plan = stack.run("plan")
    assert "vms.vm[0/0] must be replaced" in plan.output, plan.output
    assert "vms.vm[0/1] must be replaced" in plan.output
    assert "vms.domains[0/0] will be updated" in plan.output
    assert "vms.vm[1/" not in plan.output and "vms.domains[1/0]" not in plan.output
    before = sessions(stack.emu, [node_a, node_b])
    stack.apply()
    after = sessions(stack.emu, [node_a, node_b])
    assert (after[node_a] - before[node_a], after[node_b] - before[node_b]) == (2, 1)
    second = vms(stack)
    xml = on_node(stack, node_a, f"virsh dumpxml {second['vms.vm[0/0]']['name']}")
    assert "<memory unit='KiB'>1048576</memory>" in xml and "<vcpu>2</vcpu>" in xml
    assert {k: second["vms.vm[0/0]"][k] for k in ("ip", "mac")} == \
        {k: first["vms.vm[0/0]"][k] for k in ("ip", "mac")}

    # shrinking group b removes its last VM, and its domain
    stack.write([bigger[0], {**machines[1], "number": 1}]).apply()
    assert "vms.vm[1/1]" not in vms(stack)
    listing = on_node(stack, node_b, "virsh list --all --name").split()
    assert listing == [first["vms.vm[1/0]"]["name"]]

    # the job expires: everything below it is re-created, at the recorded slots
    stack.emu.advance(3700)
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    for address in ("vms.job[rennes]", "vms.hypervisor[0/0]", "vms.domains[1/0]",
                    "vms.vm[0/1]"):
        assert address in plan.output
    stack.apply()
    third = vms(stack)
    assert {a: v["ip"] for a, v in third.items()} == \
        {a: first[a]["ip"] for a in ("vms.vm[0/0]", "vms.vm[0/1]", "vms.vm[1/0]")}
    config = tmp_path / "ssh_config"
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    for attributes in third.values():
        result = ssh(config, attributes["name"], "echo $SSH_CONNECTION")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[2] == attributes["ip"]
    assert stack.run("destroy", "--auto-approve").exit_code == 0


def test_sigkill_during_the_batched_starts_converges(stack: VmStack) -> None:
    """An apply SIGKILLed once the nodes' batches have started some domains: the next
    apply finishes every batch, each domain is defined once and runs, the plan is empty."""
    machines = [{"roles": ["a"], "cluster": "parasilo", "number": 6, "nodes": 2}]
    stack.write(machines)
    process = subprocess.Popen(
        [sys.executable, "-m", "bedform.cli", "-c", str(stack.file), "apply",
         "--auto-approve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        started = False
        while not started and process.poll() is None and time.monotonic() < deadline:
            assert stack.emu.box is not None
            nodes = sorted(stack.emu.box.nodes)
            started = any(line.startswith("start ")
                          for calls in virsh_calls(stack.emu, nodes).values()
                          for line in calls)
            time.sleep(0.02)
        assert started, "no domain was started before the apply ended"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    # the kernel frees the killed run's lock; its teardown may take a moment
    result = stack.run("--lock-timeout", "10", "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    state = stack.state()
    assert {r.status.value for r in state.resources.values()} == {"ready"}
    recorded = vms(stack)
    assert len(recorded) == 6
    for node in sorted({a["node"] for a in recorded.values()}):
        listing = on_node(stack, node, "virsh list --all")
        states = parse_list(listing)
        wanted = {a["name"] for a in recorded.values() if a["node"] == node}
        assert states == dict.fromkeys(wanted, "running"), listing
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
