"""The unmodified `distem` client (PyPI) drives the emulated coordinator through the
sequence EnOSlib uses (other-apis.md §4.2), over real HTTP, and meets its errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from bedform.emulators.distem import DistemEmulator

distem = pytest.importorskip("distem")

PNODES = ["parasilo-1.rennes.grid5000.fr", "parasilo-2.rennes.grid5000.fr"]
KEY = {"public": "ssh-rsa AAAAB3Nza test@distem", "private": "-----BEGIN KEY-----"}


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[DistemEmulator]:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with DistemEmulator() as emulator:
        yield emulator


@pytest.fixture
def client(emu: DistemEmulator) -> distem.Distem:
    return distem.Distem(serveraddr=emu.host, port=emu.port)


def test_enoslib_sequence(emu: DistemEmulator, client: distem.Distem) -> None:
    assert client.pnodes_info() == []
    pnodes = client.pnode_init(PNODES)
    assert [p["address"] for p in pnodes] == PNODES
    assert {p["status"] for p in client.pnodes_info()} == {"RUNNING"}
    network = client.vnetwork_create("enoslib_distem_network", "10.158.0.0/22")
    assert network["address"] == "10.158.0.0/22"
    addresses = []
    for k in range(3):
        name = f"vnode-{k}"
        vnode = client.vnode_create(name, {"host": PNODES[k % 2]}, KEY)
        assert vnode["status"] == "INIT" and vnode["host"] == PNODES[k % 2]
        filesystem = client.vfilesystem_create(name, {"image": "file:///tmp/rootfs.tgz"})
        assert filesystem["image"] == "file:///tmp/rootfs.tgz"
        assert client.vnode_info(name)["status"] == "READY"
        viface = client.viface_create(name, "if0", {"vnetwork": "enoslib_distem_network",
                                                     "default": "true"})
        addresses.append(viface["address"])
        assert client.vnode_start(name)["status"] == "RUNNING"
    assert addresses == ["10.158.0.1/22", "10.158.0.2/22", "10.158.0.3/22"]
    listed = {v["name"]: v for v in client.vnodes_info()}
    assert sorted(listed) == ["vnode-0", "vnode-1", "vnode-2"]
    assert listed["vnode-1"]["vifaces"][0]["address"] == "10.158.0.2/22"
    assert client.vnetwork_info("enoslib_distem_network")["vnodes"] == sorted(listed)
    platform = requests.get(f"{emu.url}/vplatform", timeout=10).json()
    assert len(platform["vnodes"]) == 3 and len(platform["pnodes"]) == 2
    # the wire: form fields, JSON-encoded structured values, booleans as "False"
    posts = [(r["method"], r["path"]) for r in emu.requests()]
    assert ("POST", "/vnodes/vnode-0/filesystem/") in posts
    assert ("PUT", "/vnodes/vnode-2") in posts
    # stop, restart, remove: the address goes back to the vnetwork
    assert client.vnode_stop("vnode-1")["status"] == "DOWN"
    assert client.vnode_start("vnode-1")["status"] == "RUNNING"
    client.vnode_remove("vnode-1")
    again = client.vnode_create("vnode-9", {"host": PNODES[0]}, KEY)
    assert again["status"] == "INIT"
    assert client.viface_create("vnode-9", "if0", {"vnetwork": "enoslib_distem_network"}
                                )["address"] == "10.158.0.2/22"
    # an address asked for is given, and only once
    client.vnode_create("vnode-10", {"host": PNODES[0]}, KEY)
    assert client.viface_create("vnode-10", "if0", {"vnetwork": "enoslib_distem_network",
                                                    "address": "10.158.0.77/22"}
                                )["address"] == "10.158.0.77/22"
    client.pnodes_quit()
    assert client.pnodes_info() == [] and client.vnodes_info() == []


def test_errors_carry_the_application_header(emu: DistemEmulator,
                                             client: distem.Distem) -> None:
    with pytest.raises(Exception, match="ResourceNotFoundError: vnode 'nope' not found"):
        client.vnode_info("nope")
    with pytest.raises(Exception, match="vnetwork 'absent' not found"):
        client.vnetwork_info("absent")
    client.pnode_init(PNODES[0])
    client.vnetwork_create("net", "10.0.0.0/30")
    with pytest.raises(Exception, match="already exists"):
        client.vnetwork_create("net", "10.0.0.0/30")
    client.vnode_create("a", {"host": PNODES[0]}, KEY)
    with pytest.raises(Exception, match="already exists"):
        client.vnode_create("a", {"host": PNODES[0]}, KEY)
    with pytest.raises(Exception, match="has no file system"):
        client.vnode_start("a")
    with pytest.raises(Exception, match="pnode 'elsewhere' not found"):
        client.vnode_create("b", {"host": "elsewhere"}, KEY)
    client.vnode_create("c", {"host": PNODES[0]}, KEY)
    client.viface_create("a", "if0", {"vnetwork": "net"})
    client.viface_create("c", "if0", {"vnetwork": "net"})
    client.vnode_create("d", {"host": PNODES[0]}, KEY)
    with pytest.raises(Exception, match=r"no free address left in 10\.0\.0\.0/30"):
        client.viface_create("d", "if0", {"vnetwork": "net"})
    answer = requests.post(f"{emu.url}/vnodes/e", data={"desc": "{not json"}, timeout=10)
    assert answer.status_code == 400
    assert "not valid JSON" in answer.headers["X-Application-Error-Code"]
    client.vfilesystem_create("a", {"image": "file:///x"})
    client.vnode_start("a")
    with pytest.raises(Exception, match="need the Grid'5000 box"):
        client.vnode_execute("a", "hostname")
    assert emu.mutations() > 0
