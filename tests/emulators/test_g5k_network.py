"""Kadeploy, KaVLAN, subnets, firewall and storage on the Grid'5000 emulator."""

import pytest
import requests
from grid5000 import Grid5000
from grid5000.exceptions import Grid5000CreateError, Grid5000DeleteError

AUTH = ("alice", "alice-pw")


def submit(site, resources, **extra):
    return site.jobs.create({"resources": resources, "command": "sleep 1d", **extra})


def test_vlan_catalogue(g5k_client):
    vlans = {v.uid: v.type for v in g5k_client.sites["rennes"].vlans.list()}
    assert vlans["DEFAULT"] == "NULL"
    assert [vlans[i] for i in ("1", "2", "3")] == ["kavlan-local"] * 3
    assert [vlans[str(i)] for i in range(4, 10)] == ["kavlan"] * 6
    assert vlans["16"] == "kavlan-global"
    assert vlans["14"] == "kavlan-global-remote"
    assert g5k_client.sites["rennes"].vlans["4"].type == "kavlan"


def test_deployment_rules_and_faults(g5k_emulator, g5k_client):
    site = g5k_client.sites["rennes"]
    plain = submit(site, "{cluster='parasilo'}/nodes=1")
    deploy = submit(site, "{cluster='parasilo'}/nodes=2", types=["deploy"])
    g5k_emulator.advance(5)
    with pytest.raises(Grid5000CreateError, match=r"403: .*rights to deploy"):
        site.deployments.create({"nodes": plain.assigned_nodes, "environment": "debian12-min"})
    with pytest.raises(Grid5000CreateError, match="environment can't be blank"):
        site.deployments.create({"nodes": deploy.assigned_nodes})
    with pytest.raises(Grid5000CreateError, match="nodes must be a non-empty list"):
        site.deployments.create({"nodes": [], "environment": "debian12-min"})
    with pytest.raises(Grid5000CreateError, match="rights on vlan 4"):
        site.deployments.create(
            {"nodes": deploy.assigned_nodes, "environment": "debian12-min", "vlan": 4}
        )
    bad = deploy.assigned_nodes[1]
    g5k_emulator.add_fault(kind="deploy_ko", nodes=[bad])
    dep = site.deployments.create(
        {"nodes": deploy.assigned_nodes, "environment": "debian12-min", "version": 2}
    )
    assert dep.version == "2"
    g5k_emulator.advance(120)
    dep.refresh()
    assert dep.status == "terminated"
    assert {n: r["state"] for n, r in dep.result.items()} == {
        deploy.assigned_nodes[0]: "OK",
        bad: "KO",
    }
    # The fault was used once: the retry succeeds.
    retry = site.deployments.create({"nodes": [bad], "environment": "debian12-min"})
    g5k_emulator.add_fault(kind="deploy_error")
    broken = site.deployments.create({"nodes": [bad], "environment": "debian12-min"})
    g5k_emulator.advance(120)
    retry.refresh()
    broken.refresh()
    assert retry.result[bad]["state"] == "OK"
    assert broken.status == "error" and "result" not in broken.to_dict()
    listed = [d.uid for d in site.deployments.list()]
    assert listed == [broken.uid, retry.uid, dep.uid]


def test_deployment_cancel_and_job_end(g5k_emulator, g5k_client):
    site = g5k_client.sites["rennes"]
    job = submit(site, "{cluster='parasilo'}/nodes=1,walltime=0:01:00", types=["deploy"])
    g5k_emulator.advance(5)
    dep = site.deployments.create({"nodes": job.assigned_nodes, "environment": "debian12-min"})
    other = site.deployments.create({"nodes": job.assigned_nodes, "environment": "debian12-nfs"})
    site.deployments.delete(other.uid)
    other.refresh()
    assert other.status == "canceled"
    g5k_emulator.advance(200)  # the job expires before the deployment ends
    dep.refresh()
    assert dep.status == "terminated"
    assert dep.result[job.assigned_nodes[0]]["state"] == "KO"


def test_kavlan_rights_and_release(g5k_emulator, g5k_client):
    site = g5k_client.sites["nancy"]
    job = submit(site, "{cluster='gros'}/nodes=2+{type='kavlan'}/vlan=1,walltime=1:00:00")
    g5k_emulator.advance(5)
    vid = job.resources_by_type["vlans"][0]
    nic = job.assigned_nodes[0].replace(".nancy", "-eth1.nancy")
    bob = Grid5000(**g5k_emulator.client_config("bob")).sites["nancy"]
    with pytest.raises(Exception, match="403: Not enough privileges on Kavlan resources"):
        bob.vlans[vid].nodes.submit([nic])
    other_vlan = "5" if vid != "5" else "6"
    with pytest.raises(Exception, match="403: Not enough privileges"):
        site.vlans[other_vlan].nodes.submit([nic])
    url = f"{g5k_emulator.url}/sites/nancy/vlans/{vid}/nodes"
    r = requests.post(url, data="x", auth=AUTH, headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 415
    r = requests.post(url, json=[], auth=AUTH, timeout=5)
    assert (r.status_code, r.text) == (422, "Missing node list")
    assert site.vlans[vid].nodes.submit([nic])[nic]["status"] == "success"
    assert site.vlansnodes.list()[0].vlan in ("DEFAULT", vid)
    iface = site.vlans[vid].nodes.get(nic)
    assert iface.vlan == vid
    assert site.vlansusers["alice"].vlans == [vid]
    assert site.vlans[vid].users["alice"].status == "authorized"
    assert site.vlans[vid].users["bob"].status == "unauthorized"
    # Move it back out "from outside" (admin), as drift tests need.
    admin = Grid5000(**g5k_emulator.client_config("admin")).sites["nancy"]
    assert admin.vlans["DEFAULT"].nodes.submit([nic])[nic]["status"] == "success"
    assert site.vlans[vid].nodes.submit([nic])[nic]["status"] == "success"
    g5k_emulator.advance(3600)
    assert site.vlans[vid].nodes.list() == []
    assert site.vlans[vid].nodes.get(nic).vlan == "DEFAULT"
    assert site.vlansusers.list() == []


def test_site_status_vlans_and_subnets(g5k_emulator, g5k_client):
    site = g5k_client.sites["lille"]
    job = submit(site, "{type='kavlan-local'}/vlan=1+slash_22=2")
    g5k_emulator.advance(5)
    status = site.status.list()
    assert status.vlans["1"]["soft"] == "busy"
    assert status.vlans["1"]["reservations"][0]["uid"] == job.uid
    assert status.vlans["4"]["soft"] == "free"
    busy = sorted(k for k, v in status.subnets.items() if v["soft"] == "busy")
    assert busy == sorted(job.resources_by_type["subnets"]) == ["10.136.0.0/22", "10.136.4.0/22"]
    assert len(status.subnets) == 192
    anonymous = requests.get(g5k_emulator.url + "/sites/lille/status", timeout=5).json()
    assert "reservations" not in anonymous["vlans"]["1"]
    only = site.status.list(vlans="no", subnets="no", disks="no")
    assert set(only.to_dict()) == {"uid", "nodes", "links"}


def test_firewall(g5k_emulator, g5k_client):
    site = g5k_client.sites["rennes"]
    job = submit(site, "{cluster='parasilo'}/nodes=1,walltime=1:00:00")
    g5k_emulator.advance(5)
    node = job.assigned_nodes[0].replace(".rennes", "-ipv6.rennes")
    opened = job.firewall.create([{"addr": [node], "port": [80, 443], "proto": "tcp"}])
    assert [o.port for o in opened] == [[80, 443]]
    assert job.firewall.list()[0].addr == [node]
    with pytest.raises(Grid5000CreateError, match="is not a node of job"):
        job.firewall.create([{"addr": ["parasilo-20-ipv6.rennes.grid5000.fr"], "proto": "all"}])
    job.firewall.delete()
    assert job.firewall.list() == []
    job.firewall.create([{"addr": [node], "proto": "all"}])
    g5k_emulator.advance(3600)
    assert job.firewall.list() == []
    with pytest.raises(Grid5000DeleteError):
        Grid5000(**g5k_emulator.client_config("bob")).sites["rennes"].jobs[
            job.uid
        ].firewall.delete()


def test_storage_access(g5k_emulator, g5k_client):
    site = g5k_client.sites["rennes"]
    job = submit(site, "nodes=1,walltime=1:00:00")
    g5k_emulator.advance(5)
    rules = site.storage["home"].access["alice"].rules
    rules.create({"ipv4": ["10.156.0.1"], "termination": {"job": job.uid, "site": "rennes"}})
    [rule] = rules.list()
    assert rule.id == f"G5k-home_alice_j_{job.uid}-rennes_1"
    assert rule.nfs_address == "srv-data.rennes.grid5000.fr:/export/home/alice"
    with pytest.raises(Grid5000CreateError, match="403"):
        site.storage["home"].access["bob"].rules.create(
            {"ipv4": ["10.156.0.1"], "termination": {"until": "2026-04-02 10:00"}}
        )
    group = site.storage["storage1"].access["team"].rules
    group.create({"ipv4": ["10.156.0.2"], "termination": {"until": "2026-04-01 16:00:00"}})
    assert group.list()[0].nfs_address == "storage1.rennes.grid5000.fr:/export/group/team"
    g5k_emulator.advance(3600)
    assert rules.list() == []
    assert len(group.list()) == 1
    g5k_emulator.advance(3 * 3600)
    assert group.list() == []


def test_g5k_subnets_mac_convention(g5k_emulator, g5k_client):
    job = submit(g5k_client.sites["rennes"], "slash_22=1")
    r = requests.get(f"{g5k_emulator.base_url}/_emulator/g5k-subnets/rennes/{job.uid}", timeout=5)
    data = r.json()
    assert data["subnets"] == ["10.156.0.0/22"]
    assert (data["gateway"], data["netmask"]) == ("10.159.255.254", "255.252.0.0")
    assert len(data["addresses"]) == 1022
    assert data["addresses"][0] == {"ip": "10.156.0.1", "mac": "00:16:3E:9C:00:01"}
    missing = requests.get(f"{g5k_emulator.base_url}/_emulator/g5k-subnets/rennes/7", timeout=5)
    assert missing.status_code == 404


def test_global_vlan_across_sites(g5k_emulator, g5k_client):
    rennes = g5k_client.sites["rennes"]
    nancy = g5k_client.sites["nancy"]
    owner = submit(rennes, "{type='kavlan-global'}/vlan=1,walltime=1:00:00")
    assert owner.resources_by_type["vlans"] == ["16"]
    nodes = submit(nancy, "{cluster='gros'}/nodes=1,walltime=2:00:00")
    g5k_emulator.advance(5)
    nic = nodes.assigned_nodes[0].replace(".nancy", "-eth1.nancy")
    assert nancy.vlans["16"].type == "kavlan-global-remote"
    assert nancy.vlans["16"].nodes.submit([nic])[nic]["status"] == "success"
    assert [n.uid for n in nancy.vlans["16"].nodes.list()] == [nic]
    g5k_emulator.advance(3600)  # the job holding the global vlan ends
    assert nancy.vlans["16"].nodes.list() == []
