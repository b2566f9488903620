"""The local driver against the real kernel: namespaces, bridges, veths, sshd, ssh."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time

import pytest

from bedform import machines
from bedform.errors import PreflightError, ProviderError
from bedform.objects import DefaultNetwork
from bedform.providers.local import cleanup
from bedform.providers.local.driver import LocalDriver
from bedform.state.model import Status
from tests.local.conftest import root_only
from tests.local.support import Ctx, LocalBed, record_of, ssh

pytestmark = [pytest.mark.root, root_only]


def section(machines, networks=None, **top):
    resources = {"machines": machines}
    if networks is not None:
        resources["networks"] = networks
    return {"type": "local", **top, "resources": resources}


def up(ctx, data):
    """The engine-driven testbed of `data` and the records of a full apply."""
    bed = LocalBed(ctx, data)
    return bed, bed.apply()


def assert_healthy(drv, records):
    observed = drv.refresh(list(records.values()))
    assert set(observed) == set(records)
    bad = {a: o for a, o in observed.items() if not o.alive or o.drift}
    assert not bad


def hosts_of(roles, role):
    return {h.alias: h for h in roles[role]}


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


def test_lifecycle(new_stack):
    ctx = new_stack()
    data = section(
        machines=[{"roles": ["server", "db"], "number": 2},
                  {"roles": ["client"], "networks": ["lan"]}],
        networks=[{"id": "lan", "cidr": "198.18.10.0/24", "roles": ["lan", "data"]},
                  {"id": "admin", "cidr": "198.18.11.0/24"}])
    bed, records = up(ctx, data)
    drv = bed.driver
    assert len(records) == 14
    assert_healthy(drv, records)

    roles, networks = bed.inventory()
    servers, clients = hosts_of(roles, "server"), hosts_of(roles, "client")
    assert set(servers) == {"server-1", "server-2"} and set(clients) == {"client-1"}
    assert hosts_of(roles, "db") == servers
    server = servers["server-2"]
    assert server.address == "198.18.10.3"  # first network first
    assert server.user == "root"
    assert server.extra == {"netns": f"bf-{ctx.stack_id}-here-server-2"}
    assert stat.S_IMODE(os.stat(server.keyfile).st_mode) == 0o600
    assert os.path.dirname(server.keyfile).startswith(str(ctx.state_dir))

    [lan] = networks["lan"]
    assert networks["data"] == networks["lan"]
    assert isinstance(lan, DefaultNetwork)
    assert str(lan.gateway) == "198.18.10.1"
    # lan holds server-1/2 at .2/.3 and client-1 at .128: the free tail starts after it
    assert (str(lan.ip_start), str(lan.ip_end)) == ("198.18.10.129", "198.18.10.255")
    [admin] = networks["admin"]
    assert (str(admin.ip_start), str(admin.ip_end)) == ("198.18.11.4", "198.18.11.255")

    # real SSH: the hostname is the host's own, on both of its addresses
    for host in (*servers.values(), *clients.values()):
        result = ssh(host, "hostname")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == host.alias
    admin_view = type(server)("198.18.11.3", alias="server-2", user="root",
                              keyfile=server.keyfile)
    assert ssh(admin_view, "hostname").stdout.strip() == "server-2"
    # hosts reach each other through the bridge; the admin network is not the client's
    probe = ssh(clients["client-1"], "exec 3<>/dev/tcp/198.18.10.2/22 && head -c 4 <&3")
    assert probe.stdout == "SSH-"
    interfaces = ssh(clients["client-1"], "ls /sys/class/net").stdout.split()
    assert sorted(interfaces) == ["lan", "lo"]
    route = ssh(servers["server-1"], "ip route show default").stdout
    assert "via 198.18.10.1 dev lan" in route

    # a second apply adopts everything as it is (same sshd, same attributes)
    again = bed.apply()
    assert {a: r.attributes for a, r in again.items()} == \
        {a: r.attributes for a, r in records.items()}

    bed.destroy()
    observed = drv.refresh(list(records.values()))
    assert all(not o.alive for o in observed.values())
    assert not any(p.is_file() for p in (ctx.state_dir / "providers").rglob("*"))
    # deleting again, driver-level: already gone counts as done
    for record in records.values():
        drv.delete(record, Ctx())


def test_two_stacks_side_by_side(new_stack):
    one, two = new_stack("one"), new_stack("two")
    stacks = []
    for ctx, cidr in ((one, "198.18.20.0/24"), (two, "198.18.21.0/24")):
        stacks.append(up(ctx, section([{"roles": ["node"], "number": 2}],
                                      [{"id": "lan", "cidr": cidr}])))
    names = [{r.inputs.get("ifname") for r in bed.resources} - {None} for bed, _ in stacks]
    assert not names[0] & names[1]
    for bed, _ in stacks:
        roles, _ = bed.inventory()
        for host in roles["node"]:
            assert ssh(host, "hostname").stdout.strip() == host.alias
    (bed1, _), (bed2, rec2) = stacks
    bed1.destroy()
    assert_healthy(bed2.driver, rec2)  # the other stack is untouched
    bed2.destroy()


def test_a_cidr_in_use_is_refused(new_stack):
    data = section([{"roles": ["node"]}], [{"id": "lan", "cidr": "198.18.30.0/24"}])
    bed1, _ = up(new_stack("one"), data)
    drv2 = LocalDriver(new_stack("two"))
    [bridge] = [r for r in drv2.expand("here", drv2.load_config(data))
                if r.kind == "local_bridge"]
    with pytest.raises(ProviderError) as info:
        drv2.create(bridge, Ctx())
    assert "already in use" in info.value.message and "198.18.30.1/24" in info.value.message
    bed1.destroy()


def test_drift_is_reported_and_repaired(new_stack):
    ctx = new_stack()
    data = section([{"roles": ["node"], "number": 4}], [{"id": "lan", "cidr": "198.18.40.0/24"}])
    bed, records = up(ctx, data)
    drv, resources = bed.driver, bed.resources
    try:
        netns = {r.inputs["hostname"]: r.inputs["netns"] for r in resources
                 if r.kind == "local_host"}
        veth = {r.inputs["host"]: r.inputs for r in resources if r.kind == "local_veth"}
        # node-1: namespace deleted by hand; node-2: sshd killed;
        # node-3: address removed; node-4: veth moved out of the bridge
        ip("netns", "del", netns["node-1"])
        os.kill(records["here.sshd[node-2]"].attributes["pid"], signal.SIGKILL)
        ip("-n", netns["node-3"], "addr", "flush", "dev", "lan")
        ip("link", "set", veth["node-4"]["ifname"], "nomaster")
        time.sleep(0.05)
        observed = drv.refresh(list(records.values()))
        # its UTS mount is left: the host is replaced (not forgotten) so that it goes too
        assert observed["here.host[node-1]"].drift == (
            f"namespace {netns['node-1']} was deleted outside bedform",)
        assert "no longer in namespace" in " ".join(observed["here.veth[node-1/lan]"].drift)
        assert observed["here.sshd[node-1]"].drift  # runs in an orphaned namespace
        assert not observed["here.sshd[node-2]"].alive
        assert observed["here.veth[node-3/lan]"].drift == ("address 198.18.40.4/24 missing",)
        assert "not attached to bridge" in observed["here.veth[node-4/lan]"].drift[0]
        healthy = {a for a, o in observed.items() if o.alive and not o.drift}
        assert "here.host[node-2]" in healthy and "here.bridge[lan]" in healthy

        records = bed.apply()
        assert_healthy(drv, records)
        roles, _ = bed.inventory()
        for host in roles["node"]:
            assert ssh(host, "hostname").stdout.strip() == host.alias

        # a bridge losing its gateway, then a bridge deleted outside
        bridge = records["here.bridge[lan]"].inputs["ifname"]
        ip("addr", "flush", "dev", bridge)
        assert drv.refresh([records["here.bridge[lan]"]])["here.bridge[lan]"].drift
        ip("link", "del", bridge)
        gone = drv.refresh([records["here.bridge[lan]"]])["here.bridge[lan]"]
        assert not gone.alive and "is gone" in gone.reason
        records = bed.apply()
        assert_healthy(drv, records)
    finally:
        bed.destroy()


def test_interrupted_creates_are_adopted(new_stack):
    ctx = new_stack()
    data = section([{"roles": ["node"]}], [{"id": "lan", "cidr": "198.18.50.0/24"}])
    bed, records = up(ctx, data)
    drv, resources = bed.driver, {r.address: r for r in bed.resources}
    try:
        pending = {a: record_of(resources[a], {}, Status.PENDING_CREATE) for a in records}
        observed = drv.refresh(list(pending.values()))
        assert all(o.alive and not o.drift for o in observed.values())
        assert observed["here.veth[node-1/lan]"].attributes["address"] == "198.18.50.2/24"
        # a veth left half-configured (no address yet) is not adopted as is...
        ip("-n", resources["here.host[node-1]"].inputs["netns"], "addr", "flush", "dev", "lan")
        veth = drv.refresh([pending["here.veth[node-1/lan]"]])["here.veth[node-1/lan]"]
        assert not veth.alive and "interrupted" in veth.reason
        # ...create completes it, and re-creating the sshd adopts the running one
        drv.create(resources["here.veth[node-1/lan]"], Ctx())
        pid = records["here.sshd[node-1]"].attributes["pid"]
        assert drv.create(resources["here.sshd[node-1]"], Ctx())["pid"] == pid
        assert_healthy(drv, records)
    finally:
        bed.destroy()


def test_stale_namespace_files_of_a_killed_run_are_replaced(new_stack):
    drv = LocalDriver(new_stack())
    data = section([{"roles": ["node"]}], [{"id": "lan", "cidr": "198.18.55.0/24"}],
                   ssh=False)
    [host] = [r for r in drv.expand("here", drv.load_config(data)) if r.kind == "local_host"]
    # a run killed inside `ip netns add` / `unshare --uts=` leaves plain files behind
    for path in (f"/run/netns/{host.inputs['netns']}", host.inputs["uts"]):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()
    pending = record_of(host, {}, Status.PENDING_CREATE)
    assert not drv.refresh([pending])[host.address].alive
    record = record_of(host, drv.create(host, Ctx()))
    assert_healthy(drv, {host.address: record})
    drv.delete(record, Ctx())


def test_import_existing_objects(new_stack):
    data = section([{"roles": ["node"]}], [{"id": "lan", "cidr": "198.18.57.0/24"}])
    bed, records = up(new_stack(), data)
    drv, resources = bed.driver, {r.address: r for r in bed.resources}
    try:
        host = resources["here.host[node-1]"]
        attributes = drv.import_object(host, host.inputs["netns"])
        assert attributes == records[host.address].attributes
        sshd = resources["here.sshd[node-1]"]
        assert drv.import_object(sshd, sshd.inputs["netns"])["pid"] == \
            records[sshd.address].attributes["pid"]
        with pytest.raises(ProviderError, match="fixed names"):
            drv.import_object(host, "some-other-namespace")
    finally:
        bed.destroy()
    with pytest.raises(ProviderError, match="no "):
        drv.import_object(host, host.inputs["netns"])


def test_sshd_timeout_names_the_host(new_stack):
    data = section([{"roles": ["node"]}], [{"id": "lan", "cidr": "198.18.60.0/24"}])
    bed = LocalBed(new_stack(ssh_timeout=0.5), data)
    drv, resources = bed.driver, {r.address: r for r in bed.resources}
    sshd = resources.pop("here.sshd[node-1]")
    bed.apply(targets=list(resources))
    broken = type(sshd)(sshd.address, sshd.kind, {**sshd.inputs, "addresses": ["198.18.60.99"]},
                        sshd.depends_on, sshd.identity, sshd.provider)
    try:
        with pytest.raises(ProviderError) as info:
            drv.create(broken, Ctx())
        assert "node-1" in info.value.message and "198.18.60.99:22" in info.value.message
    finally:
        drv.delete(record_of(broken, {}), Ctx())
        bed.destroy()


def test_without_ssh(new_stack):
    ctx = new_stack()
    bed, records = up(
        ctx, section([{"roles": ["node"]}], [{"id": "lan", "cidr": "198.18.70.0/24"}],
                     ssh=False, user="alice"))
    drv, resources = bed.driver, bed.resources
    try:
        assert {r.kind for r in resources} == {"local_bridge", "local_host", "local_veth"}
        roles, _ = bed.inventory()
        [host] = roles["node"]
        assert (host.address, host.user, host.keyfile) == ("198.18.70.2", "alice", None)
        netns = host.extra["netns"]
        uts = records["here.host[node-1]"].inputs["uts"]
        out = subprocess.run(["nsenter", f"--net=/run/netns/{netns}", f"--uts={uts}",
                              "sh", "-c", "hostname; ip -br link show dev lan"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out[0] == "node-1" and out[1].startswith("lan@") and out[2] == "UP"
        assert_healthy(drv, records)
        subprocess.run(["nsenter", f"--uts={uts}", "hostname", "renamed"], check=True)
        [drift] = drv.refresh([records["here.host[node-1]"]])["here.host[node-1]"].drift
        assert drift == "hostname is 'renamed', not 'node-1'"
        drv.create(next(r for r in resources if r.kind == "local_host"), Ctx())
        assert_healthy(drv, records)
    finally:
        bed.destroy()


def test_destroy_kills_what_runs_inside_a_host(new_stack):
    bed, _ = up(new_stack(), section(
        [{"roles": ["node"]}], [{"id": "lan", "cidr": "198.18.80.0/24"}]))
    roles, _ = bed.inventory()
    [host] = roles["node"]
    assert ssh(host, "setsid sleep 600 </dev/null >/dev/null 2>&1 &").returncode == 0
    bed.destroy()  # the conftest leak check fails if `sleep` survives


def test_preflight_says_what_is_missing(new_stack, monkeypatch):
    drv = LocalDriver(new_stack())
    drv.preflight()
    monkeypatch.setattr(machines, "which", lambda program: None)
    monkeypatch.setattr("bedform.providers.local.driver._has_net_admin", lambda: False)
    with pytest.raises(PreflightError) as info:
        drv.preflight()
    text = str(info.value)
    assert "root" in text and "CAP_NET_ADMIN" in text
    assert "sshd (openssh-server)" in text and "ip (iproute2)" in text
    assert "apt-get install iproute2 openssh-server" in text
    # without ssh, sshd is not required (the conf is given, or was expanded before)
    no_ssh = LocalDriver.load_config(section([{"roles": ["a"]}], ssh=False))
    with pytest.raises(PreflightError) as info:
        drv.preflight(no_ssh)
    assert "sshd" not in str(info.value)
    drv.expand("here", no_ssh)
    with pytest.raises(PreflightError) as info:
        drv.preflight()
    assert "sshd" not in str(info.value)


def test_preflight_checks_the_ssh_user(new_stack):
    drv = LocalDriver(new_stack())
    with pytest.raises(PreflightError) as info:
        drv.preflight(section([{"roles": ["a"]}], user="nobody-here-at-all"))
    assert "nobody-here-at-all" in str(info.value) and "useradd" in str(info.value)


def test_leak_check_finds_leftovers(new_stack):
    ctx = new_stack()
    bed, _ = up(ctx, section([{"roles": ["node"]}],
                             [{"id": "lan", "cidr": "198.18.90.0/24"}]))
    found = cleanup.leftovers(ctx.stack_id)
    assert len(found["namespaces"]) == 1 and len(found["uts"]) == 1
    assert len(found["links"]) == 2 and len(found["processes"]) == 1
    bed.destroy()
    assert not any(cleanup.leftovers(ctx.stack_id).values())
