"""`chameleonbaremetal` through the CLI against the emulator's Blazar (issue 19)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import openstack
import pytest
from blazarclient.exception import BlazarClientException

from bedform.emulators.openstack.server import DEFAULT_CLOUD_NAME
from tests.chameleon.conftest import Stack, bare_metal, blazar, held_hosts, mutations

TWO_TYPES = [("server", "compute_skylake", 1), ("client", "compute_haswell", 2)]


def test_two_node_types_lifecycle(site, tmp_path):
    stack = Stack(tmp_path / "s").write(cbm=bare_metal(TWO_TYPES, extra_ips=1))
    plan = stack.run("plan")
    assert plan.exit_code == 0, plan.output
    assert '+ blazar_lease "cbm.lease"' in plan.output
    assert 'hosts = {"compute_haswell": 2, "compute_skylake": 1}' in plan.output
    for server in ("0-0", "1-0", "1-1"):
        assert f'+ os_server "cbm.server[{server}]"' in plan.output
    stack.apply()
    conn = openstack.connect(cloud=DEFAULT_CLOUD_NAME)
    [lease] = site.app.blazar.leases.values()
    assert site.app.blazar.status(lease) == "ACTIVE"
    hints = {r.id for r in lease.reservations}
    servers = {s.name: s for s in conn.compute.servers()}
    assert sorted(servers) == ["exp-0-0", "exp-1-0", "exp-1-1"]
    assert all(s.status == "ACTIVE" for s in servers.values())
    assert {site.cloud.servers[s.id].scheduler_hints["reservation"]
            for s in servers.values()} == hints
    outputs = json.loads(stack.run("output", "--format", "json").output)
    assert sorted(outputs["roles"]["client"]) == ["exp-1-0", "exp-1-1"]
    gateway = {h["extra"]["gateway"] for h in outputs["hosts"].values()}
    assert len(gateway) == 1 and gateway.pop().startswith("172.24.4.")
    assert all(h["address"].startswith("10.140.8") for h in outputs["hosts"].values())
    [port] = [p for p in conn.network.ports() if p.name == "exp-port-0"]
    assert [n["extra_ips"] for n in outputs["networks"]["lan"]] == [
        [port.fixed_ips[0]["ip_address"]]]

    site.clear_requests()
    again = stack.apply()
    assert "No changes." in again.output
    assert mutations(site) == []

    site.advance(3700)                    # past the lease's end: Blazar deleted the servers
    plan = stack.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert "cbm.lease will be created (reason: expired: lease exp expired at" in plan.output
    for server in ("0-0", "1-0", "1-1"):
        assert f'+ os_server "cbm.server[{server}]"' in plan.output
    stack.apply()
    assert stack.run("plan", "--detailed-exitcode").exit_code == 0
    client = blazar()
    assert [lease["status"] for lease in client.lease.list()] == ["ACTIVE"]

    assert held_hosts(client) != []
    destroy = stack.run("destroy", "--auto-approve")
    assert destroy.exit_code == 0, destroy.output
    assert client.lease.list() == [] and held_hosts(client) == []
    assert list(conn.compute.servers()) == []
    assert list(conn.network.ips()) == []
    assert [p for p in conn.network.ports() if p.name.startswith("exp-")] == []


def test_apply_waits_for_the_lease_with_progress(openstack_emulator_factory, tmp_path,
                                                 monkeypatch):
    from tests.openstack.conftest import prepare

    # Blazar's events run each whole minute; 60 virtual seconds per real second; the
    # executor shows a progress line every 10 s, so the lease starts 11 minutes ahead
    site = prepare(openstack_emulator_factory(build_seconds=0.0, chameleon=True,
                                              speed=60.0, event_period=60.0),
                   tmp_path, monkeypatch)
    start = datetime.fromtimestamp(site.now() + 660, UTC).strftime("%Y-%m-%d %H:%M")
    stack = Stack(tmp_path / "s").write(cbm=bare_metal(
        [("server", "compute_haswell", 1)], reservation=start, walltime="02:00:00"))
    result = stack.apply()
    assert f"lease exp starts at {start} UTC" in result.output, result.output
    [lease] = site.app.blazar.leases.values()
    assert site.app.blazar.status(lease) == "ACTIVE"
    assert stack.run("destroy", "--auto-approve").exit_code == 0


def test_walltime_extends_in_place_shortening_into_the_past_replaces(site, tmp_path):
    stack = Stack(tmp_path / "s").write(cbm=bare_metal([("server", "compute_haswell", 1)]))
    stack.apply()
    [lease] = site.app.blazar.leases.values()
    first_end = lease.end
    stack.write(cbm=bare_metal([("server", "compute_haswell", 1)], walltime="03:00:00"))
    plan = stack.run("plan")
    assert "~ blazar_lease" in plan.output and "-/+ os_server" not in plan.output, plan.output
    site.clear_requests()
    stack.apply()
    assert [m for m in mutations(site) if "/leases" in m[1]] == [
        ("PUT", f"/reservation/v1/leases/{lease.id}")]
    assert lease.end == first_end + 2 * 3600
    site.advance(1800)                   # half an hour in: 00:10:00 would end in the past
    stack.write(cbm=bare_metal([("server", "compute_haswell", 1)], walltime="00:10:00"))
    plan = stack.run("plan")
    assert "-/+ blazar_lease" in plan.output, plan.output
    assert "cannot shorten it in place" in plan.output
    assert "# forces replacement" in plan.output
    stack.apply()
    [new] = site.app.blazar.leases.values()
    assert new.id != lease.id and site.app.blazar.status(new) == "ACTIVE"
    assert stack.run("destroy", "--auto-approve").exit_code == 0


def test_refusal_names_node_type_free_hosts_and_when(site, tmp_path):
    blocker = Stack(tmp_path / "b", name="blocker").write(
        cbm=bare_metal([("x", "compute_skylake", 2)], walltime="02:00:00"))
    blocker.apply()
    [held] = site.app.blazar.leases.values()
    stack = Stack(tmp_path / "s").write(cbm=bare_metal([("server", "compute_skylake", 3)]))
    result = stack.run("apply", "--auto-approve")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "lease exp refused by Blazar: Not enough hosts available" in text, text
    assert "compute_skylake: 1 of 3 host(s) free for 01:00:00" in text
    until = datetime.fromtimestamp(held.end, UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert f"enough free from {until}" in text
    assert "Traceback" not in result.output
    assert len(site.app.blazar.leases) == 1
    assert stack.run("destroy", "--auto-approve").exit_code == 0
    assert blocker.run("destroy", "--auto-approve").exit_code == 0


def test_a_bare_metal_server_needs_an_active_reservation(site):
    conn = openstack.connect(cloud=DEFAULT_CLOUD_NAME)
    flavor = conn.compute.find_flavor("baremetal")
    image = conn.image.find_image("CC-Ubuntu22.04")
    network = conn.network.find_network("sharednet1")
    server = conn.compute.create_server(name="loose", image_id=image.id, flavor_id=flavor.id,
                                        networks=[{"uuid": network.id}])
    server = conn.compute.get_server(server.id)
    assert server.status == "ERROR"
    assert "No valid host was found" in server.fault["message"]


def test_update_answers_updating_then_settles_gone_is_404(site, tmp_path):
    # as the real Blazar 10 answers (tests/openstack_real/test_blazar_real.py)
    client = blazar()
    now = datetime.fromtimestamp(site.now(), UTC)
    lease = client.lease.create("direct", "now", f"{now.year + 1}-01-01 00:00", [
        {"resource_type": "physical:host", "min": 1, "max": 1, "hypervisor_properties": "",
         "resource_properties": '["=", "$node_type", "compute_haswell"]'}], [])
    assert client.lease.get(lease["id"])["status"] == "ACTIVE"
    answer = client.lease.update(lease["id"], end_date=f"{now.year + 2}-01-01 00:00")
    assert answer["status"] == "UPDATING"
    assert answer["end_date"].startswith(f"{now.year + 2}-01-01T00:00")
    assert client.lease.get(lease["id"])["status"] == "ACTIVE"
    client.lease.delete(lease["id"])
    with pytest.raises(BlazarClientException) as gone:
        client.lease.get(lease["id"])
    assert gone.value.kwargs["code"] == 404
    assert str(gone.value) == f"ERROR: Object with {{'lease_id': '{lease['id']}'}} not found"

    # the lease kind records the lease as it settled, not the PUT's answer
    stack = Stack(tmp_path / "s").write(cbm=bare_metal([("server", "compute_haswell", 1)]))
    stack.apply()
    stack.write(cbm=bare_metal([("server", "compute_haswell", 1)], walltime="03:00:00"))
    stack.apply()
    state = json.loads((stack.file.parent / ".bedform" / "state.json").read_text())
    assert state["resources"]["cbm.lease"]["attributes"]["status"] == "ACTIVE"
    assert stack.run("plan", "--detailed-exitcode").exit_code == 0
    assert stack.run("destroy", "--auto-approve").exit_code == 0


def test_refusal_where_host_allocations_are_admin_only(site, tmp_path, monkeypatch):
    # upstream Blazar's default policy (the real fixture without its policy.yaml answered
    # this 403 to the member user); Chameleon opens the host list to its users
    from blazarclient.v1.hosts import ComputeHostClientManager

    def forbidden(*args, **kwargs):
        raise BlazarClientException(message="Policy doesn't allow blazar:oshosts:get to be "
                                            "performed", code=403)
    blocker = Stack(tmp_path / "b", name="blocker").write(
        cbm=bare_metal([("x", "compute_skylake", 3)]))
    blocker.apply()
    monkeypatch.setattr(ComputeHostClientManager, "list", forbidden)
    stack = Stack(tmp_path / "s").write(cbm=bare_metal([("server", "compute_skylake", 1)]))
    result = stack.run("apply", "--auto-approve")
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert ("lease exp refused by Blazar: Not enough hosts available (1 compute_skylake "
            "asked; this cloud does not let its users read Blazar's host allocations, so "
            "how many are free and from when is unknown)") in text, text
    assert "Traceback" not in result.output
    assert blocker.run("destroy", "--auto-approve").exit_code == 0
