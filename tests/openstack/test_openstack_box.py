"""The OpenStack provider against the emulator in box mode, through the CLI: the servers
are real SSH hosts, the gateway server reachable on its floating IP, the others through
it (EnOSlib's gateway model); SSH readiness succeeds; a server deleted with the
`openstack` CLI is planned alone and repaired; destroy leaves nothing in the cloud nor
in the box."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedform import machines
from bedform.emulators.g5k.testing import ssh_agent
from bedform.emulators.openstack import DEFAULT_CLOUD_NAME, OpenstackEmulator
from bedform.emulators.openstack.testing import (  # noqa: F401
    openstack_box_factory,
    openstack_emulator_factory,
)
from tests.openstack.conftest import OpenstackStack, connection, prepare, section

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")

OPENSTACK = str(Path(sys.executable).with_name("openstack"))


@pytest.fixture
def box(openstack_box_factory: Any, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenstackEmulator]:
    """A box cloud whose key pair `boxkey` is a key an ssh-agent holds (the provider and
    the generated ssh config use the user's agent)."""
    emu = prepare(openstack_box_factory(), tmp_path, monkeypatch)
    key = tmp_path / "keys" / "id_ed25519"
    public = machines.ensure_keypair(key, "alice@osbox")
    conn = connection(emu)
    conn.compute.create_keypair(name="boxkey", public_key=public)
    conn.close()
    with ssh_agent([key], tmp_path) as agent:
        monkeypatch.setenv("SSH_AUTH_SOCK", agent)
        yield emu


def ssh(config: Path, host: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", str(config), "-o", "BatchMode=yes",
                           "-o", "ConnectTimeout=10", host, command],
                          capture_output=True, text=True, timeout=30)


def server_namespaces(emu: OpenstackEmulator) -> list[str]:
    """The box's namespaces other than its own (one per server host)."""
    assert emu.box is not None
    return [n for n in machines.listdir("/run/netns")
            if n.startswith(emu.box.prefix) and n != emu.box.box_netns]


def test_gateway_and_three_servers_through_the_cli(box: OpenstackEmulator,
                                                   tmp_path: Path) -> None:
    stack = OpenstackStack(tmp_path / "stack", box)
    stack.write(**section(servers=3, key_name="boxkey", gateway=True))
    stack.apply()
    config = tmp_path / "ssh_config"
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    document = json.loads(stack.run("output", "--format", "json").output)
    aliases = document["roles"]["server"] + document["roles"]["client"]
    assert len(aliases) == 4
    floating = document["hosts"][aliases[0]]["extra"]["gateway"]
    assert box.box is not None
    hosts = {host["name"]: host for host in box.box.view()["hosts"]}
    assert hosts[aliases[0]]["floating"].split("/")[0] == floating
    assert [hosts[a]["floating"] for a in aliases[1:]] == [None, None, None]

    # The gateway answers on its floating IP from here; every server through it.
    direct = subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", f"debian@{floating}", "hostname"],
        capture_output=True, text=True, timeout=60)
    assert direct.stdout.strip() == aliases[0], direct.stderr
    for alias in aliases:
        assert f"ProxyJump debian@{floating}" in config.read_text()
        result = ssh(config, alias, "hostname; id -un; sudo -n id -u")
        assert result.stdout.split() == [alias, "debian", "0"], result.stderr
    fixed = {a: document["hosts"][a]["address"] for a in aliases}
    unreachable = subprocess.run(
        ["timeout", "3", "bash", "-c", f"</dev/tcp/{fixed[aliases[1]]}/22"],
        capture_output=True)
    assert unreachable.returncode != 0, "a server without floating IP answered from here"

    # A no-op apply makes no mutating request.
    box.clear_requests()
    assert "No changes." in stack.apply().output
    assert stack.mutations() == []

    # A server deleted with the openstack CLI: planned alone, repaired.
    victim = aliases[2]
    deleted = subprocess.run([OPENSTACK, "--os-cloud", DEFAULT_CLOUD_NAME, "server",
                              "delete", victim], capture_output=True, text=True, timeout=60)
    assert deleted.returncode == 0, deleted.stderr
    assert victim not in {host["name"] for host in box.box.view()["hosts"]}
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    created = [line for line in plan.output.splitlines() if "will be created" in line]
    assert len(created) == 1 and victim not in created[0] and "os.server[" in created[0], \
        plan.output
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.output, plan.output
    stack.apply()
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    repaired = ssh(config, victim, "hostname")
    assert repaired.stdout.strip() == victim, repaired.stderr + repr(box.box.view())

    # Destroy: nothing of the stack in the cloud, no host or bridge in the box.
    stack.run("destroy", "--auto-approve")
    conn = connection(box)
    try:
        assert list(conn.compute.servers()) == []
        assert list(conn.network.ips()) == []
        assert list(conn.network.routers()) == []
        project_id = conn.current_project_id
        assert [n.name for n in conn.network.networks(project_id=project_id)] == []
        assert list(conn.network.subnets(project_id=project_id)) == []
        assert [p.id for p in conn.network.ports(project_id=project_id)] == []
        assert [g.name for g in conn.network.security_groups(project_id=project_id)] \
            in ([], ["default"])
    finally:
        conn.close()
    box.box.reconcile()
    view = box.box.view()
    assert view["hosts"] == [] and view["bridges"] == {}
    assert server_namespaces(box) == []
    assert not any(box.box.prefix in machines.cmdline(pid) and "sshd" in machines.cmdline(pid)
                   for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                   if str(box.box.box_netns) not in machines.cmdline(pid))


def test_ssh_readiness_succeeds_in_box_mode(box: OpenstackEmulator, tmp_path: Path) -> None:
    stack = OpenstackStack(tmp_path / "stack", box, name="ready")
    stack.write(**section(servers=1, key_name="boxkey", gateway=True, wait_ssh=True))
    result = stack.apply()
    assert "os.ssh_ready: Creation complete" in result.output, result.output
    assert stack.state().resources["os.ssh_ready"].attributes["servers"] == [
        "ready-0-0", "ready-1-0"]
    stack.run("destroy", "--auto-approve")


def test_stop_and_start_through_the_api_stop_and_bring_back_the_host(
        box: OpenstackEmulator, tmp_path: Path) -> None:
    conn = connection(box)
    try:
        network = conn.network.create_network(name="n")
        conn.network.create_subnet(network_id=network.id, cidr="10.66.0.0/24", ip_version=4)
        image = conn.image.find_image("debian-12")
        flavor = conn.compute.find_flavor("m1.tiny")
        server = conn.compute.create_server(name="solo", image_id=image.id,
                                            flavor_id=flavor.id, key_name="boxkey",
                                            networks=[{"uuid": network.id}])
        conn.compute.wait_for_server(server, wait=10)
        assert box.box is not None
        namespaces = server_namespaces(box)
        assert len(namespaces) == 1
        home = box.box.home(server.id) / "debian"
        (home / "kept").write_text("on the disk\n")
        conn.compute.stop_server(server)
        conn.compute.wait_for_server(server, status="SHUTOFF", wait=10)
        assert server_namespaces(box) == [] and box.box.view()["hosts"] == []
        conn.compute.start_server(server)
        conn.compute.wait_for_server(server, wait=10)
        assert server_namespaces(box) == namespaces
        assert (home / "kept").read_text() == "on the disk\n"  # the disk survives a stop
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=10)
        assert server_namespaces(box) == [] and not home.exists()
    finally:
        conn.close()
