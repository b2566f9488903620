"""Reference API of the Grid'5000 emulator, driven with python-grid5000."""

import time

import pytest
import requests
from grid5000 import Grid5000, Grid5000Offline
from grid5000.exceptions import Grid5000AuthenticationError, Grid5000GetError

from bedform.emulators.g5k import ReferenceData


def test_whole_testbed_loads_fast():
    started = time.perf_counter()
    ref = ReferenceData.load()
    assert time.perf_counter() - started < 1.0
    assert len(ref.sites) == 12
    assert sum(len(s.get("clusters", {})) for s in ref.sites.values()) == 158
    assert sum(len(i.hosts) for i in ref.index.values()) == 939


def test_sites_clusters_nodes(g5k_client):
    sites = g5k_client.sites.list()
    assert [s.uid for s in sites] == sorted(s.uid for s in sites)
    assert len(sites) == 12
    clusters = sum(len(s.clusters.list(queues="all")) for s in sites)
    assert clusters == 158
    rennes = g5k_client.sites["rennes"]
    assert rennes.kavlans["4"]["network"] == "10.24.0.0/18"
    assert rennes.servers["dns"].network_adapters["default"]["ip"] == "172.16.111.118"
    parasilo = rennes.clusters["parasilo"]
    assert parasilo.exotic is False
    nodes = parasilo.nodes.list()
    assert [n.uid for n in nodes][:3] == ["parasilo-1", "parasilo-10", "parasilo-11"]
    node = parasilo.nodes["parasilo-1"]
    assert node.architecture["nb_threads"] == 32
    addresses = [a.get("network_address") for a in node.network_adapters]
    assert addresses[:2] == ["parasilo-1.rennes.grid5000.fr", "parasilo-1-eth1.rennes.grid5000.fr"]
    # The job JSON has no site: python-grid5000 takes it from the parent.
    assert node.site == "rennes"


def test_deep_dump_feeds_the_offline_client(g5k_client):
    dump = g5k_client.dump_ref_api()
    offline = Grid5000Offline(dump)
    node = offline.sites["nancy"].clusters["gros"].nodes["gros-1"]
    assert node.uid == "gros-1"
    assert len(offline.sites["rennes"].clusters.list()) == 40


def test_url_tolerance(g5k_emulator):
    base = g5k_emulator.url
    r = requests.get(base + "//sites//rennes/?deep=0&pretty=yes&unknown=1", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.json()["uid"] == "rennes"
    # A trailing slash in the configured uri gives "//sites" paths.
    client = Grid5000(**{**g5k_emulator.client_config(), "uri": base + "/"})
    assert client.sites["lyon"].uid == "lyon"
    deep = requests.get(base + "/sites/lille?deep=1", timeout=5).json()
    assert "chiclet" in deep["items"]["clusters"]
    assert requests.get(base.replace("/stable", "/3.0") + "/sites", timeout=5).status_code == 200


def test_errors_are_plain_text_with_real_words(g5k_client, g5k_emulator):
    with pytest.raises(Grid5000GetError) as err:
        g5k_client.sites["atlantis"]
    assert str(err.value) == "404: Cannot find resource /sites/atlantis"
    r = requests.get(g5k_emulator.url + "/sites/rennes/clusters/nope", timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(Grid5000GetError, match="Vlan 42 does not exist"):
        g5k_client.sites["rennes"].vlans["42"]


def test_bad_password_is_401(g5k_emulator):
    client = Grid5000(uri=g5k_emulator.url, username="alice", password="wrong", verify_ssl=False)
    with pytest.raises(Grid5000AuthenticationError):
        client.sites.list()
    anonymous = Grid5000(uri=g5k_emulator.url, verify_ssl=False)
    assert len(anonymous.sites.list()) == 12


def test_cluster_queue_filter_and_versions(g5k_emulator):
    base = g5k_emulator.url + "/sites/nancy"
    default = requests.get(base + "/clusters", timeout=5).json()
    production = requests.get(base + "/clusters?queues=production", timeout=5).json()
    assert default["total"] == len(default["items"]) == 14
    assert all("production" in c["queues"] for c in production["items"])
    assert production["total"] < default["total"]
    versions = requests.get(base + "/clusters/gros/versions", timeout=5).json()
    assert versions["items"][0]["uid"] == default["version"]
    envs = requests.get(base + "/environments", timeout=5).json()
    assert "debian12-min" in [e["uid"] for e in envs["items"]]
