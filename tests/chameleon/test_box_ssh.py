"""Chameleon in a box (issue 19): the emulator in Chameleon + box mode, the providers
through the CLI. Bare metal: a lease of two node types that starts minutes ahead, apply
waits for it to be ACTIVE before booting, then `ssh -F <ssh-config>` reaches every
server (the gateway on its floating IP, the others through it, on `sharednet1`).
KVM: a gateway and a client on the stack's own network, the same way in."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
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
from tests.chameleon.conftest import Stack, bare_metal
from tests.openstack.conftest import connection, prepare
from tests.openstack.test_openstack_box import server_namespaces, ssh

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")

SPEED = 30.0
"""Virtual seconds per real second: a lease three minutes ahead starts in 6 s."""


@pytest.fixture
def site(openstack_box_factory: Any, tmp_path: Path,  # noqa: F811
         monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenstackEmulator]:
    """A Chameleon site in a box (Blazar's events each whole minute) whose key pair
    `boxkey` is a key an ssh-agent holds."""
    emu = prepare(openstack_box_factory(chameleon=True, speed=SPEED, event_period=60.0),
                  tmp_path, monkeypatch)
    key = tmp_path / "keys" / "id_ed25519"
    conn = connection(emu)
    conn.compute.create_keypair(name="boxkey",
                                public_key=machines.ensure_keypair(key, "cc@chameleon"))
    conn.close()
    with ssh_agent([key], tmp_path) as agent:
        monkeypatch.setenv("SSH_AUTH_SOCK", agent)
        yield emu


def reach_every_host(stack: Stack, tmp_path: Path, user: str) -> dict[str, Any]:
    """`ssh -F` to every host of the stack's inventory: each answers with its own name
    as `user`, who may sudo; the ssh config jumps through the gateway's floating IP.
    Returns the JSON inventory."""
    config = tmp_path / "ssh_config"
    config.write_text(stack.run("output", "--format", "ssh-config").output)
    document = json.loads(stack.run("output", "--format", "json").output)
    floating = {host["extra"]["gateway"] for host in document["hosts"].values()}
    assert len(floating) == 1, document
    assert f"ProxyJump {user}@{floating.pop()}" in config.read_text()
    for alias in document["hosts"]:
        result = ssh(config, alias, "hostname; id -un; sudo -n id -u")
        assert result.stdout.split() == [alias, user, "0"], result.stderr
    return document


def assert_box_empty(site: OpenstackEmulator) -> None:
    assert site.box is not None
    site.box.reconcile()
    assert site.box.view()["hosts"] == [] and server_namespaces(site) == []


def test_bare_metal_two_node_types_reachable_over_ssh(site: OpenstackEmulator,
                                                      tmp_path: Path) -> None:
    start = datetime.fromtimestamp(site.now() + 180, UTC).strftime("%Y-%m-%d %H:%M")
    stack = Stack(tmp_path / "s").write(cbm=bare_metal(
        [("server", "compute_skylake", 1), ("client", "compute_haswell", 2)],
        key_name="boxkey", reservation=start, extra_ips=1))
    result = stack.apply()
    assert "cbm.lease: Creation complete" in result.output, result.output
    conn = connection(site)
    try:
        [lease] = list(site.app.blazar.leases.values())
        servers = list(conn.compute.servers())
        # apply booted the servers once the lease was ACTIVE, not before its start
        booted = [datetime.fromisoformat(s.created_at).timestamp() for s in servers]
        assert min(booted) >= lease.start, (booted, lease.start)
        assert sorted(s.name for s in servers) == ["exp-0-0", "exp-1-0", "exp-1-1"]
        shared = conn.network.find_network("sharednet1")
        assert {p.network_id for s in servers for p in conn.network.ports(device_id=s.id)} \
            == {shared.id}
    finally:
        conn.close()
    document = reach_every_host(stack, tmp_path, "cc")
    assert sorted(document["hosts"]) == ["exp-0-0", "exp-1-0", "exp-1-1"]

    destroy = stack.run("destroy", "--auto-approve")
    assert destroy.exit_code == 0, destroy.output
    assert_box_empty(site)


def test_kvm_gateway_and_client_reachable_over_ssh(site: OpenstackEmulator,
                                                   tmp_path: Path) -> None:
    stack = Stack(tmp_path / "s", name="kvm").write(ckvm={
        "type": "chameleonkvm", "cloud": DEFAULT_CLOUD_NAME, "key_name": "boxkey",
        "resources": {"machines": [
            {"roles": ["server"], "flavour": "m1.medium", "number": 1},
            {"roles": ["client"], "flavour": "m1.small", "number": 1}],  # CC images: 10 GB
            "networks": ["lan"]}})
    stack.apply()
    document = reach_every_host(stack, tmp_path, "cc")
    assert sorted(document["hosts"]) == ["kvm-0-0", "kvm-1-0"]
    destroy = stack.run("destroy", "--auto-approve")
    assert destroy.exit_code == 0, destroy.output
    assert_box_empty(site)
