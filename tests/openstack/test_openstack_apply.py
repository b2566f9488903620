"""Plan/apply of an OpenStack stack against the emulator over HTTP, through the CLI:
first apply, no-op apply, repair of a server deleted with the `openstack` CLI or put in
ERROR, a floating IP re-attached, a grown group."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bedform.emulators.openstack.server import DEFAULT_CLOUD_NAME
from tests.openstack.conftest import connection, section


def test_apply_then_noop_apply_makes_no_mutation(stack):
    stack.write(**section())
    first = stack.apply()
    state = stack.state()
    servers = sorted(r.attributes["name"] for r in state.resources.values()
                     if r.kind == "os_server")
    assert servers == ["osexp-0-0", "osexp-1-0", "osexp-1-1", "osexp-1-2"], first.output
    roles = state.outputs["roles"]
    fip = state.resources["os.floating_ip"].attributes["floating_ip_address"]
    assert [h["alias"] for h in roles["server"]] == ["osexp-0-0"]
    assert sorted(h["alias"] for h in roles["client"]) == servers[1:]
    assert all(h["extra"]["gateway"] == fip for h in roles["client"])
    assert all(h["address"].startswith("10.87.23.") for h in roles["client"])
    assert "lan" in state.outputs["networks"]
    stack.emu.clear_requests()
    again = stack.apply()
    assert "No changes" in again.output, again.output
    assert stack.mutations() == []


def test_server_deleted_outside_is_recreated_alone(stack):
    stack.write(**section()).apply()
    before = stack.state().resources
    victim = before["os.server[1-1]"].attributes["id"]
    openstack_cli = Path(sys.executable).parent / "openstack"
    subprocess.run([str(openstack_cli), "--os-cloud", DEFAULT_CLOUD_NAME, "server",
                    "delete", "osexp-1-1"], check=True, capture_output=True,
                   timeout=120)
    conn = connection(stack.emu)
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "# os.server[1-1] will be created (reason: deleted outside" in plan.output, \
        plan.output
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.output
    stack.emu.clear_requests()
    stack.apply()
    assert [m for m in stack.mutations() if m.startswith("POST")] == \
        ["POST /compute/v2.1/servers"]
    after = stack.state().resources
    assert after["os.server[1-1]"].attributes["id"] != victim
    assert after["os.server[0-0]"].attributes["id"] == \
        before["os.server[0-0]"].attributes["id"]
    names = sorted(s.name for s in conn.compute.servers())
    assert names == ["osexp-0-0", "osexp-1-0", "osexp-1-1", "osexp-1-2"]


def test_server_in_error_outside_is_replaced_alone(stack):
    stack.write(**section()).apply()
    victim = stack.state().resources["os.server[1-0]"].attributes["id"]
    stack.emu.set_server_status(victim, "ERROR", "host lost")
    plan = stack.run("plan")
    assert "# os.server[1-0] must be replaced" in plan.output, plan.output
    assert "host lost" in plan.output
    assert "Plan: 1 to add, 0 to change, 1 to destroy." in plan.output
    stack.apply()
    conn = connection(stack.emu)
    servers = {s.name: s for s in conn.compute.servers()}
    assert len(servers) == 4 and servers["osexp-1-0"].status == "ACTIVE"
    assert servers["osexp-1-0"].id != victim


def test_detached_floating_ip_is_reattached(stack):
    stack.write(**section(servers=1)).apply()
    fip = stack.state().resources["os.floating_ip"].attributes
    conn = connection(stack.emu)
    conn.network.update_ip(fip["id"], port_id=None)
    plan = stack.run("plan")
    assert "# os.floating_ip will be updated in-place" in plan.output, plan.output
    assert "detached" in plan.output
    stack.apply()
    assert conn.network.get_ip(fip["id"]).port_id == fip["port_id"]
    gateway = conn.compute.find_server("osexp-0-0")
    kinds = [e["OS-EXT-IPS:type"] for e in conn.compute.get_server(gateway.id)
             .addresses["osexp-network"]]
    assert kinds == ["fixed", "floating"]


def test_growing_a_group_adds_servers_and_renames_none(stack):
    stack.write(**section(servers=1)).apply()
    ids = {a: r.attributes["id"] for a, r in stack.state().resources.items()
           if r.kind == "os_server"}
    stack.write(**section(servers=3))
    plan = stack.run("plan")
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in plan.output, plan.output
    stack.apply()
    after = {a: r.attributes["id"] for a, r in stack.state().resources.items()
             if r.kind == "os_server"}
    assert {a: after[a] for a in ids} == ids
    assert sorted(after) == [f"os.server[{n}]" for n in ("0-0", "1-0", "1-1", "1-2")]
