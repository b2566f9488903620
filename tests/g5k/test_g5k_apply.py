"""Plan/apply of a G5k stack against the API emulator over HTTP."""

from __future__ import annotations

import json

import pytest

from bedform.state.model import Status
from tests.g5k.conftest import section


def test_apply_twice_makes_no_mutating_call(stack):
    stack.write(**section()).apply()
    state = stack.state()
    job = state.resources["g5k.job[rennes]"]
    assert job.attributes["uid"] and len(job.attributes["assigned_nodes"]) == 3
    assert job.attributes["vlan[n1]"] and job.attributes["vlan[n2]"]
    assert "g5k.deployment[rennes/n1]" in state.resources
    assert "g5k.vlan_port[n2]" in state.resources
    roles = state.outputs["roles"]
    assert len(roles["server"]) == 2 and len(roles["client"]) == 1
    vlan = job.attributes["vlan[n1]"]
    assert all(f"-kavlan-{vlan}." in h["address"] for h in roles["server"])
    assert roles["server"][0]["user"] == "root"
    assert {"lan", "priv", "vms"} <= set(state.outputs["networks"])
    first_roles = json.dumps(roles, sort_keys=True)
    stack.emu.clear_requests()
    result = stack.apply()
    assert "No changes" in result.output
    assert stack.mutations() == []
    job_lists = [r for r in stack.emu.requests() if r["method"] == "GET"]
    assert len(job_lists) <= 2, job_lists
    assert json.dumps(stack.state().outputs["roles"], sort_keys=True) == first_roles


@pytest.mark.parametrize("with_uid", [True, False])
def test_pending_job_is_adopted(stack, with_uid):
    stack.write(**section()).apply()
    state = stack.state()
    uid = state.resources["g5k.job[rennes]"].attributes["uid"]
    # as if the run had died right after the submission: only a pending record remains
    path = stack.root / ".bedform" / "state.json"
    doc = json.loads(path.read_text())
    for address in list(doc["resources"]):
        if address != "g5k.job[rennes]":
            del doc["resources"][address]
    record = doc["resources"]["g5k.job[rennes]"]
    record["status"] = Status.PENDING_CREATE.value
    record["attributes"] = {"uid": uid, "site": "rennes"} if with_uid else {}
    path.write_text(json.dumps(doc))
    stack.emu.clear_requests()
    plan = stack.run("plan")
    assert "adopt" in plan.output, plan.output
    stack.apply()
    posts = [p for m, p in stack.mutations() if p.endswith("/jobs")]
    assert posts == []
    assert stack.state().resources["g5k.job[rennes]"].attributes["uid"] == uid


def test_job_by_name_is_adopted_without_state(stack):
    stack.write(**section()).apply()
    uid = stack.state().resources["g5k.job[rennes]"].attributes["uid"]
    import shutil
    shutil.rmtree(stack.root / ".bedform")
    stack.emu.clear_requests()
    stack.apply()
    assert not [p for m, p in stack.mutations() if p.endswith("/jobs")]
    assert stack.state().resources["g5k.job[rennes]"].attributes["uid"] == uid


def test_expired_job_is_drift(stack):
    stack.write(**section()).apply()
    stack.emu.advance(3700)
    result = stack.run("plan", "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    assert "expired" in result.output
    assert "g5k.job[rennes]" in result.output
    assert "g5k.deployment[rennes/n1]" in result.output


def test_env_change_replaces_only_the_deployment(stack):
    stack.write(**section()).apply()
    uid = stack.state().resources["g5k.job[rennes]"].attributes["uid"]
    stack.emu.clear_requests()
    stack.write(**section(env_name="debian11-min")).apply()
    mutations = stack.mutations()
    assert [p for m, p in mutations if p.endswith("/jobs")] == []
    assert any(p.endswith("/deployments") for m, p in mutations)
    assert stack.state().resources["g5k.job[rennes]"].attributes["uid"] == uid


def test_walltime_change_is_an_update(stack):
    stack.write(**section()).apply()
    uid = stack.state().resources["g5k.job[rennes]"].attributes["uid"]
    plan = stack.run("plan")
    stack.write(**section(walltime="26:00:00"))
    plan = stack.run("plan")
    assert "1 to change" in plan.output, plan.output
    stack.emu.clear_requests()
    stack.apply()
    job = stack.state().resources["g5k.job[rennes]"]
    assert job.attributes["uid"] == uid and job.attributes["walltime"] == 26 * 3600
    assert [p for m, p in stack.mutations()] == [f"/stable/sites/rennes/jobs/{uid}/walltime"]


def test_destroy_kills_the_job(stack):
    stack.write(**section()).apply()
    uid = stack.state().resources["g5k.job[rennes]"].attributes["uid"]
    result = stack.run("destroy", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert ("DELETE", f"/stable/sites/rennes/jobs/{uid}") in stack.mutations()
    assert not stack.state().resources


def test_not_enough_nodes_is_clear(stack):
    sec = section()
    sec["resources"]["machines"][0]["nodes"] = 500
    result = stack.write(**sec).run("apply", "--auto-approve")
    assert result.exit_code == 1
    assert "providers.g5k.resources.machines[0].nodes: cluster parasilo has 25 node(s); " \
        "500 asked" in result.output
    assert stack.mutations() == []  # refused at plan time, before any submission


def test_vlan_port_drift_is_reattached(stack):
    stack.write(**section()).apply()
    port = stack.state().resources["g5k.vlan_port[n2]"]
    iface = port.attributes["interfaces"][0]
    from grid5000 import Grid5000
    admin = Grid5000(**stack.emu.client_config("admin"))
    admin.http_post("/sites/rennes/vlans/DEFAULT/nodes", post_data=[iface])
    result = stack.run("plan", "--detailed-exitcode")
    assert result.exit_code == 2 and "g5k.vlan_port[n2]" in result.output, result.output
    stack.emu.clear_requests()
    stack.apply()
    assert not [p for m, p in stack.mutations() if p.endswith("/jobs")]


def test_killed_job_is_drift_and_recreated(stack):
    stack.write(**section()).apply()
    uid = stack.state().resources["g5k.job[rennes]"].attributes["uid"]
    from grid5000 import Grid5000
    Grid5000(**stack.emu.client_config("admin")).http_delete(f"/sites/rennes/jobs/{uid}")
    result = stack.run("plan", "--detailed-exitcode")
    assert result.exit_code == 2 and "killed" in result.output, result.output
    stack.apply()
    assert stack.state().resources["g5k.job[rennes]"].attributes["uid"] != uid


def test_subnet_network_has_ips_and_macs(stack):
    stack.write(**section()).apply()
    from bedform.objects import networks_from_dict
    networks = networks_from_dict(stack.state().outputs["networks"])
    subnet = next(iter(networks["vms"]))
    assert type(subnet).__name__ == "G5kEnosSubnetNetwork"
    ip, mac = next(iter(subnet.free_ips)), next(iter(subnet.free_macs))
    octets = str(ip).split(".")
    assert mac.lower() == "00:16:3e:" + ":".join(f"{int(o):02x}" for o in octets[1:])
    vlan = next(n for n in networks["lan"] if type(n).__name__ == "G5kEnosVlan4Network")
    assert vlan.vlan_id and vlan.has_free_ips


def test_outputs_through_the_cli(stack):
    stack.write(**section()).apply()
    document = json.loads(stack.run("output", "--format", "json").output)
    assert len(document["roles"]["server"]) == 2
    host = document["hosts"][document["roles"]["server"][0]]
    assert host["address"].endswith(".rennes.grid5000.fr") and host["user"] == "root"
    assert host["extra"]["gateway"] == "access.grid5000.fr"
    vlan_networks = [n for n in document["networks"]["lan"] if n["type"].startswith(
        "G5kEnosVlan")]
    assert {n["type"] for n in vlan_networks} == {"G5kEnosVlan4Network",
                                                  "G5kEnosVlan6Network"}
    inventory = stack.run("output", "--format", "ansible").output
    assert "[server]" in inventory and "access.grid5000.fr" in inventory
    ssh_config = stack.run("output", "--format", "ssh-config").output
    assert "ProxyJump" in ssh_config and "access.grid5000.fr" in ssh_config
