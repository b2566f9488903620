"""The seven guarantees of DESIGN.md on the local provider, through the real CLI.

Real namespaces, bridges, veths and sshd; every host is checked over real SSH. Each test
uses its own 198.18.1xx.0/24 ranges, and the `local_stack` fixture purges and
leak-checks every stack it made, even when the test fails.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bedform import machines
from bedform.machines import netlink
from bedform.providers.local import cleanup
from tests.local.conftest import REPO, LocalStack, root_only
from tests.local.support import ssh

pytestmark = [pytest.mark.root, root_only]

NO_CHANGES = "No changes. Your infrastructure matches the configuration."


def lan(cidr: str, id: str = "lan") -> dict:
    return {"id": id, "cidr": cidr}


def ifindex(name: str) -> int | None:
    root, _, _ = netlink.observe(root=True)
    return next((i for i, link in root.links.items() if link.name == name), None)


def fingerprint(stack: LocalStack) -> dict[str, object]:
    """What would change if an object were recreated: a namespace's inode, an sshd's
    pid, a veth's (or bridge's) interface index on this side."""
    out: dict[str, object] = {}
    for address, record in stack.state().resources.items():
        if record.kind == "local_host":
            out[address] = machines.ns_inode(netlink.netns_path(record.inputs["netns"]))
        elif record.kind == "local_sshd":
            out[address] = record.attributes["pid"]
            assert machines.is_running(record.attributes["pid"])
        elif record.kind in ("local_veth", "local_bridge"):
            out[address] = ifindex(record.inputs["ifname"])
    assert None not in out.values(), out
    return out


def assert_reachable(stack: LocalStack, expected: set[str] | None = None) -> None:
    hosts = stack.hosts()
    if expected is not None:
        assert set(hosts) == expected
    for alias, host in hosts.items():
        result = ssh(host, "hostname")
        assert result.returncode == 0, f"{alias}: {result.stderr}"
        assert result.stdout.strip() == alias


def addresses(stack: LocalStack) -> dict[str, str]:
    return {a: r.attributes["address"] for a, r in stack.state().resources.items()
            if r.kind == "local_veth"}


# 1. Idempotent apply -----------------------------------------------------------------
def test_second_apply_changes_nothing(local_stack) -> None:
    stack = local_stack().write([{"roles": ["node"], "number": 2}], [lan("198.18.100.0/24")])
    first = stack.apply()
    assert "Apply complete! Resources: 8 added, 0 changed, 0 destroyed." in first.output
    before, serial = fingerprint(stack), stack.state().serial
    second = stack.apply()
    assert NO_CHANGES in second.output
    assert stack.state().serial == serial
    assert fingerprint(stack) == before
    assert stack.run("plan", "--detailed-exitcode").exit_code == 0
    assert_reachable(stack, {"node-1", "node-2"})
    stack.destroy()


def test_ssh_config_and_ansible_outputs(local_stack, tmp_path: Path) -> None:
    stack = local_stack().write(
        [{"roles": ["server"], "number": 2}, {"roles": ["client"]}],
        [lan("198.18.101.0/24")])
    stack.apply()
    config = tmp_path / "ssh_config"
    result = stack.run("output", "--format", "ssh-config")
    assert result.exit_code == 0, result.output
    config.write_text(result.output)
    for alias in ("server-1", "server-2", "client-1"):
        run = subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes", alias,
                              "hostname"], capture_output=True, text=True, timeout=15,
                             check=False)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == alias
    ansible = stack.run("output", "--format", "ansible")
    assert ansible.exit_code == 0, ansible.output
    for alias in ("server-1", "server-2", "client-1"):
        assert alias in ansible.output
    for role in ("server", "client"):
        assert role in ansible.output
    stack.destroy()


# 2 and 5. Reload, never resubmit; crash safety ----------------------------------------
def test_sigkill_at_random_moments_then_apply_converges(local_stack) -> None:
    seed = int(os.environ.get("BEDFORM_TEST_SEED", time.time_ns() % 100_000))
    rng = random.Random(seed)
    stack = local_stack().write(
        [{"roles": ["server"], "number": 3}, {"roles": ["client"], "number": 3}],
        [lan("198.18.102.0/24"), lan("198.18.103.0/24", "admin")])
    expected = {f"{g}-{n}" for g in ("server", "client") for n in (1, 2, 3)}
    for round in range(3):
        for command in ("apply", "destroy"):
            # the whole process group: the CLI and the `ip`/`nsenter` it runs
            proc = subprocess.Popen(stack.command(command, "--auto-approve"), cwd=REPO,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            time.sleep(rng.uniform(0.25, 0.75))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            context = f"seed {seed}, round {round}, {command} killed"
            if command == "apply":
                stack.apply()
                assert_reachable(stack, expected)
                stack.assert_matches_state()
                assert NO_CHANGES in stack.apply().output, context
            else:
                stack.destroy()
                assert not any(stack.leftovers().values()), context
                assert not stack.state().resources, context


# 3. Redeploy only what changed -------------------------------------------------------
def test_adding_a_network_to_a_group_touches_only_that_group(local_stack) -> None:
    networks = [lan("198.18.104.0/24"), lan("198.18.105.0/24", "admin")]
    stack = local_stack().write(
        [{"roles": ["a"], "number": 2, "networks": ["lan"]},
         {"roles": ["b"], "number": 2, "networks": ["lan"]}], networks)
    stack.apply()
    before = fingerprint(stack)
    stack.write([{"roles": ["a"], "number": 2, "networks": ["lan", "admin"]},
                 {"roles": ["b"], "number": 2, "networks": ["lan"]}], networks)
    plan = json.loads(stack.run("plan", "--json").output)
    touched = {c["address"] for c in plan["resource_changes"] if c["action"] != "no-op"}
    assert touched, plan
    assert all("[a-" in address for address in touched), touched
    assert {"here.veth[a-1/admin]", "here.veth[a-2/admin]"} <= touched
    stack.apply()
    after = fingerprint(stack)
    unchanged = {a for a in before if a in after and before[a] == after[a]}
    assert {a for a in before if "[b-" in a or "bridge" in a} <= unchanged
    assert {a for a in before if "[a-" in a} - unchanged <= touched
    assert_reachable(stack, {"a-1", "a-2", "b-1", "b-2"})
    for alias in ("a-1", "a-2"):  # the new network works: a-1 answers on it
        interfaces = ssh(stack.hosts()[alias], "ls /sys/class/net").stdout.split()
        assert sorted(interfaces) == ["admin", "lan", "lo"]
    stack.destroy()


# 4. Stable mapping -----------------------------------------------------------------------
def test_growing_keeps_existing_addresses(local_stack) -> None:
    networks = [lan("198.18.106.0/24")]
    stack = local_stack().write([{"roles": ["node"], "number": 2}], networks)
    stack.apply()
    first, prints = addresses(stack), fingerprint(stack)
    stack.write([{"roles": ["node"], "number": 4}], networks)
    result = stack.apply()
    assert " 0 changed, 0 destroyed" in result.output
    grown = addresses(stack)
    assert {a: grown[a] for a in first} == first and len(grown) == 4
    stack.write([{"roles": ["node"], "number": 4}, {"roles": ["extra"], "number": 2}],
                networks)
    result = stack.apply()
    assert " 0 changed, 0 destroyed" in result.output
    both = addresses(stack)
    assert {a: both[a] for a in grown} == grown and len(both) == 6
    assert len(set(both.values())) == 6
    after = fingerprint(stack)
    assert {a: after[a] for a in prints} == prints  # nothing recreated either
    assert_reachable(stack, {"node-1", "node-2", "node-3", "node-4", "extra-1", "extra-2"})
    stack.destroy()


# 6. Drift is reported, apply repairs it -----------------------------------------------
def test_drift_is_reported_and_repaired(local_stack) -> None:
    stack = local_stack().write([{"roles": ["node"], "number": 4}], [lan("198.18.107.0/24")])
    stack.apply()
    state = stack.state().resources
    before = fingerprint(stack)
    subprocess.run(["ip", "netns", "delete", state["here.host[node-1]"].inputs["netns"]],
                   check=True)
    os.kill(state["here.sshd[node-2]"].attributes["pid"], signal.SIGKILL)
    subprocess.run(["ip", "-n", state["here.host[node-3]"].inputs["netns"], "addr",
                    "flush", "dev", "lan"], check=True)
    time.sleep(0.05)
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    for address in ("here.host[node-1]", "here.sshd[node-2]", "here.veth[node-3/lan]"):
        assert address in plan.output
    assert "here.host[node-4]" not in plan.output
    stack.apply()
    assert stack.run("plan", "--detailed-exitcode").exit_code == 0
    assert_reachable(stack, {"node-1", "node-2", "node-3", "node-4"})
    stack.assert_matches_state()
    after = fingerprint(stack)
    assert all(after[a] == before[a] for a in before if "node-4" in a)
    stack_id = stack.state().stack_id
    stack.destroy()
    # nothing left, the UTS mount of the host deleted outside included (issue 17, 5b)
    assert not any(cleanup.leftovers(stack_id).values()), cleanup.leftovers(stack_id)


# 7. Destroy is complete and scoped ---------------------------------------------------
def test_destroy_is_complete_and_scoped(local_stack) -> None:
    one = local_stack("one").write([{"roles": ["node"], "number": 2}],
                                   [lan("198.18.108.0/24")])
    two = local_stack("two").write([{"roles": ["node"], "number": 2}],
                                   [lan("198.18.109.0/24")])
    one.apply()
    two.apply()
    others = fingerprint(two)
    keys = [p for p in one.state_dir.rglob("*") if p.is_file() and "id_ed25519" in p.name]
    assert keys
    result = one.destroy()
    assert "Destroy complete! Resources: 8 destroyed." in result.output
    assert not any(one.leftovers().values())
    assert not any(p.exists() for p in keys)
    assert not [p for p in (one.state_dir / "providers").rglob("*") if p.is_file()]
    again = one.run("destroy", "--auto-approve")
    assert again.exit_code == 0, again.output
    assert "No changes. No objects need to be destroyed." in again.output
    # the other stack is untouched
    assert fingerprint(two) == others
    assert two.run("plan", "--detailed-exitcode").exit_code == 0
    assert_reachable(two, {"node-1", "node-2"})
    two.destroy()


# The EnOSlib-style facade ------------------------------------------------------------------
def test_enoslib_style_local(tmp_path: Path) -> None:
    from bedform import Local, LocalConf
    from bedform.state.store import State, StateStore

    seed = State()
    StateStore(tmp_path / "state").save(seed)  # a known stack id, for the cleanup
    conf = (LocalConf.from_settings()
            .add_machine(roles=["server"], number=2)
            .add_network(id="lan", cidr="198.18.110.0/24", roles=["lan"]))
    provider = Local(conf, name="demo", state_dir=tmp_path / "state")
    try:
        roles, networks = provider.init()
        assert sorted(h.alias for h in roles["server"]) == ["server-1", "server-2"]
        assert str(networks["lan"][0].gateway) == "198.18.110.1"
        for host in roles["server"]:
            assert ssh(host, "hostname").stdout.strip() == host.alias
        assert provider.is_created()
        serial = StateStore(tmp_path / "state").load().serial
        again, _ = provider.init()  # reload: same hosts, nothing recreated
        assert again == roles
        assert StateStore(tmp_path / "state").load().serial == serial
        assert not provider.plan().has_changes
        assert provider.plan(force_deploy=True).has_changes
        provider.destroy()
        assert not any(cleanup.leftovers(seed.stack_id).values())
        assert not provider.is_created()
    finally:
        assert not any(cleanup.purge(seed.stack_id).values())


# Preflight without root ------------------------------------------------------------------
def test_without_root_the_error_is_clear(local_stack, monkeypatch) -> None:
    """The CLI in-process, with the capability check answering "not root"."""
    monkeypatch.setattr("bedform.providers.local.driver._has_net_admin", lambda: False)
    stack = local_stack().write([{"roles": ["node"]}], [lan("198.18.111.0/24")])
    for command in (("plan",), ("apply", "--auto-approve")):
        result = stack.run(*command)
        assert result.exit_code == 1, result.output
        assert "root" in result.output and "CAP_NET_ADMIN" in result.output
        assert "sudo bedform apply" in result.output
        assert "Traceback" not in result.output
    assert not any(stack.leftovers().values())


def test_without_root_as_nobody(tmp_path: Path) -> None:
    """The same, really unprivileged: `setpriv` to nobody (when nobody can run Python
    with bedform's dependencies, i.e. not under a private /root/.pyenv)."""
    setpriv = machines.which("setpriv")
    drop = [setpriv or "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "HOME": "/tmp"}
    probe = subprocess.run([*drop, sys.executable, "-c", "import bedform.cli"], cwd="/",
                           env=env, capture_output=True, check=False) if setpriv else None
    if probe is None or probe.returncode != 0:
        pytest.skip("nobody cannot run this Python with bedform's dependencies")
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o777)
        stack = LocalStack(Path(directory) / "stack")
        stack.write([{"roles": ["node"]}], [lan("198.18.111.0/24")])
        for path in (stack.root, *stack.root.rglob("*")):
            os.chmod(path, 0o777 if path.is_dir() else 0o666)
        result = subprocess.run([*drop, *stack.command("plan")], cwd="/", env=env,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "root" in result.stderr and "CAP_NET_ADMIN" in result.stderr
        assert "Traceback" not in result.stderr
