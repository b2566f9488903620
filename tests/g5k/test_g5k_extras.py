"""Grid'5000 extras against the emulator: dhcp on secondary NICs (SSH executor injected),
G5kHost, the g5k_api_utils functions and their cached catalogue, storage access, and
that the API password never reaches state, plan or JSON events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bedform.objects import Host
from bedform.planner.engine import Engine
from bedform.planner.plan import Mode
from bedform.providers.g5k import api_utils
from bedform.providers.g5k.client import Api
from bedform.providers.g5k.host import G5kHost
from bedform.stack import load_stack
from tests.g5k.conftest import section


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[tuple[Host, str]]] = []

    def __call__(self, pairs, *, timeout: float) -> dict[str, Any]:
        self.calls.append(list(pairs))
        return {}


def apply(stack, options: dict[str, Any]) -> None:
    engine = Engine(load_stack(stack.file), driver_options=options)
    with engine.session("apply") as session:
        session.apply(session.plan(Mode.APPLY))


def test_dhcp_runs_on_the_secondary_nics_after_the_vlan_ports(stack) -> None:
    stack.write(**section())
    recorder = Recorder()
    apply(stack, {"g5k_remote": recorder})
    state = stack.state()
    dhcp = state.resources["g5k.dhcp[rennes]"]
    assert set(dhcp.dependencies) >= {"g5k.vlan_port[n2]", "g5k.deployment[rennes/n1]"}
    assert len(recorder.calls) == 1
    sent = {host.alias: (host, command) for host, command in recorder.calls[0]}
    vlan = state.resources["g5k.job[rennes]"].attributes["vlan[n1]"]
    servers = state.resources["g5k.job[rennes]"].attributes["groups"][0]
    assert sorted(sent) == sorted(n.replace(".", f"-kavlan-{vlan}.", 1) for n in servers)
    port_nics = state.resources["g5k.vlan_port[n2]"].attributes["interfaces"]
    for alias, (host, command) in sent.items():
        assert host.user == "root" and host.extra["gateway_user"] == "alice"
        assert command.startswith("ip link set ") and "; dhclient " in command
        nic = command.split()[3]
        assert nic.startswith(("en", "eth")), command
        assert any(i.startswith(alias.split("-kavlan")[0] + "-") for i in port_nics)
    assert dhcp.attributes["executed"] is True
    # idempotent: a second apply runs nothing
    apply(stack, {"g5k_remote": recorder})
    assert len(recorder.calls) == 1


def test_dhcp_false_and_emulated_default(stack) -> None:
    stack.write(**section(dhcp=False))
    plan = stack.run("plan")
    assert "g5k.dhcp" not in plan.output
    stack.write(**section())
    stack.apply()          # default executor: the emulator's nodes are not ssh'd to
    dhcp = stack.state().resources["g5k.dhcp[rennes]"]
    assert dhcp.attributes["executed"] is False and dhcp.attributes["commands"]


def test_g5k_host_nic_logic(emu) -> None:
    api = Api()
    node = next(n for n in api.get("/sites/rennes/clusters/parasilo/nodes")["items"]
                if n["uid"] == "parasilo-3")
    host = G5kHost("parasilo-3.rennes.grid5000.fr", roles=["server"],
                   primary_network="n1", primary_vlan="4", secondary_networks=["n2"],
                   apinode=node, extra={"gateway": "access.grid5000.fr"})
    nics = host.get_nics()
    assert nics == sorted(nics) and host.primary_nic in nics
    (nic, net), = host.secondary_nics
    assert net == "n2" and nic not in [host.primary_nic]
    assert host.vlan_interface(nic) == f"parasilo-3-{nic[0]}.rennes.grid5000.fr"
    assert host.dhcp_networks_command() == f"ip link set {nic[1]} up; dhclient {nic[1]}"
    assert host.dhcp_networks_command(networks=[]) == ""
    assert host.ssh_address == "parasilo-3-kavlan-4.rennes.grid5000.fr"
    assert host.mirror_state()["ssh_address"] == host.ssh_address
    enos = host.to_enoslib()
    assert (enos.address, enos.user, enos.extra) == (host.ssh_address, "root",
                                                     {"gateway": "access.grid5000.fr"})
    assert "sudo-g5k" in G5kHost.grant_root_access_command()
    with pytest.raises(ValueError, match="secondary NIC"):
        _ = G5kHost("x-1.rennes.grid5000.fr", secondary_networks=["a"], apinode={}
                    ).secondary_nics


def _catalogue_calls(emu) -> list[str]:
    return [r["path"] for r in emu.requests()
            if r["path"].rstrip("/").endswith(("/sites", "/clusters"))]


def test_catalogue_is_cached_one_call_per_site(emu) -> None:
    api_utils.clear_cache()
    api = Api()
    emu.clear_requests()
    assert api_utils.get_cluster_site("parasilo", api=api) == "rennes"
    assert api_utils.get_clusters_sites(["parasilo", "paradoxe"], api=api) == \
        {"parasilo": "rennes", "paradoxe": "rennes"}
    first = _catalogue_calls(emu)
    everything = api_utils.get_all_clusters_sites(api=api)
    api_utils.get_all_clusters_sites(api=api)
    api_utils.get_cluster_site("parasilo", api=api)
    calls = _catalogue_calls(emu)
    sites = api_utils.get_sites(api=api)
    assert len(sites) == 12 and len(everything) > 100
    assert sum(p.rstrip("/").endswith("/sites") for p in calls) == 1
    per_site = [p for p in calls if p.endswith("/clusters")]
    assert len(per_site) == len(set(per_site)) == len(sites)
    assert len(first) < len(calls)           # the first lookups read only what they needed
    with pytest.raises(Exception, match="unknown Grid'5000 cluster"):
        api_utils.get_cluster_site("nosuchcluster", api=api)
    api_utils.clear_cache()


def test_api_utils_job_lifecycle(emu) -> None:
    api_utils.clear_cache()
    api = Api()
    spec = {"name": "utils", "resources": "{cluster='parasilo'}/nodes=2+{type='kavlan'}/vlan=1"
            ",walltime=1:00:00", "command": "sleep 3600", "types": ["deploy"]}
    jobs = api_utils.submit_jobs([(spec, "rennes")], api=api)
    jobs = api_utils.wait_for_jobs(jobs, api=api, timeout=30, sleep=0.1)
    job = jobs[0]
    assert job["state"] == "running" and job["site"] == "rennes"
    reloaded = api_utils.grid_reload_jobs_from_name("utils", restrict_to=["rennes"], api=api)
    assert [j["uid"] for j in reloaded] == [job["uid"]]
    nodes = sorted(job["assigned_nodes"])
    deployed, undeployed = api_utils.grid_deploy(
        "rennes", nodes, {"environment": "debian12-min", "key": "ssh-ed25519 AAAA k"},
        api=api, sleep=0.2)
    assert deployed == nodes and undeployed == []
    status = api_utils.get_clusters_status(["parasilo"], api=api)["parasilo"]
    now = emu.now()
    total = len(status["nodes"])
    assert api_utils.can_start_on_cluster(status["nodes"], total - 2, now, 3600)
    assert not api_utils.can_start_on_cluster(status["nodes"], total, now, 3600)
    assert api_utils.can_start_on_cluster(status["nodes"], total - 2, now + 7200, 3600) or \
        api_utils.can_start_on_cluster(status["nodes"], 1, now + 7200, 3600)
    nics = api_utils.get_nics("parasilo", api=api)
    secondary = api_utils.get_nics("parasilo", lambda a: not a.get("mounted"), api=api)
    assert nics and secondary and set(secondary) < set(nics)
    vlan = next(iter(job["resources_by_type"]["vlans"]))
    answer = api_utils.set_nodes_vlan(nodes, secondary[0][0], vlan, api=api)
    assert len(answer) == 2
    access = api_utils.enable_home_for_job(job, ["10.0.0.1"], api=api)
    assert access
    assert any(r["method"] == "POST" and r["path"].endswith("/storage/home/alice/access")
               for r in emu.requests())
    with pytest.raises(ValueError):
        api_utils.enable_group_storage("rennes", "home", "alice", ["10.0.0.1"], api=api)
    api_utils.grid_destroy_from_name("utils", restrict_to=["rennes"], api=api)
    with pytest.raises(Exception, match="ended before running"):
        api_utils.wait_for_jobs([job], api=api, timeout=5, sleep=0.1)
    api_utils.clear_cache()


def test_password_never_in_state_plan_or_events(stack) -> None:
    password = "alice-pw"
    stack.write(**section())
    outputs = [stack.run("plan", "--out", str(stack.root / "p.plan")).output,
               stack.run("plan", "--json").output,
               stack.apply("--json").output,
               stack.run("show", "--json").output,
               stack.run("output", "--format", "json").output,
               stack.run("output", "--format", "ansible").output]
    stack.apply()
    outputs.append(stack.run("destroy", "--auto-approve", "--json").output)
    files = [p for p in (stack.root).rglob("*") if p.is_file()]
    assert any(p.name == "state.json" for p in files)
    assert all(text.strip() for text in outputs)
    assert sum("g5k.job[rennes]" in text for text in outputs) >= 4
    for text in outputs:
        assert password not in text
    for path in files:
        assert password.encode() not in path.read_bytes(), path
    json.loads(stack.root.joinpath(".bedform", "state.json").read_text())


def test_root_access_for_jobs_without_deploy(stack) -> None:
    stack.write(walltime="01:00:00", job_type=[], resources={
        "machines": [{"roles": ["r"], "cluster": "parasilo", "site": "rennes", "nodes": 2,
                      "primary_network": "n1"}],
        "networks": [{"id": "n1", "type": "prod", "roles": ["lan"], "site": "rennes"}]},
        jump=True)
    recorder = Recorder()
    apply(stack, {"g5k_remote": recorder})
    (pairs,) = recorder.calls
    nodes = stack.state().resources["g5k.job[rennes]"].attributes["assigned_nodes"]
    assert sorted(h.address for h, _ in pairs) == nodes
    for host, command in pairs:
        assert host.user == "alice" and host.extra["gateway_user"] == "alice"
        assert "sudo-g5k" in command and "grep -qxF" in command
    assert "g5k.dhcp[rennes]" not in stack.state().resources


def test_a_dhcp_failure_names_the_hosts_and_keeps_the_rest(stack) -> None:
    from bedform.errors import ApplyError, EnosUnreachableHostsError

    def unreachable(pairs, *, timeout):
        raise EnosUnreachableHostsError([h for h, _ in pairs],
                                        "2 host(s) unreachable over SSH: " +
                                        ", ".join(h.alias for h, _ in pairs))

    stack.write(**section())
    with pytest.raises(ApplyError) as caught:
        apply(stack, {"g5k_remote": unreachable})
    assert "unreachable over SSH" in str(caught.value) + repr(caught.value.failures)
    assert "g5k.dhcp[rennes]" in caught.value.failures
    resources = stack.state().resources
    assert "g5k.vlan_port[n2]" in resources and "g5k.job[rennes]" in resources
    recorder = Recorder()
    apply(stack, {"g5k_remote": recorder})       # resumes: only dhcp is (re)done
    assert len(recorder.calls) == 1
    assert stack.state().resources["g5k.dhcp[rennes]"].attributes["executed"]
