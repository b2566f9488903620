"""EnOSlib's tutorial helpers on real SSH hosts (issue 17, items 11 and 12): the kavlan
tutorial's flow `sync_info` → `filter_addresses(...)[0].ip.ip` → `run_command("ping")`,
and run_command's results and errors."""

from __future__ import annotations

import ipaddress
import logging

import pytest

import bedform as en
from bedform.objects import Host
from bedform.providers.local import cleanup
from tests.local.conftest import REASON, LocalStack

LAN = "198.18.207.0/25"
PRIV = "198.18.207.128/25"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> LocalStack:
    """server-1, client-1, client-2 on `lan`; the server and client-1 also on `priv`."""
    if REASON:
        pytest.skip(REASON)
    local = LocalStack(tmp_path_factory.mktemp("tasks") / "stack", "tasks")
    try:
        local.write([{"roles": ["server"], "number": 1, "networks": ["lan", "priv"]},
                     {"roles": ["client"], "number": 2, "networks": ["lan"]}],
                    [{"id": "lan", "cidr": LAN, "roles": ["lan"]},
                     {"id": "priv", "cidr": PRIV, "roles": ["private"]}])
        local.apply()
        yield local
        local.destroy()
    finally:
        found = cleanup.purge(local.stack_id)
        assert not any(found.values()), f"objects survived the tests: {found}"


def inventory(stack: LocalStack):
    with stack.engine().session("inventory", lock=False) as session:
        return session.inventory()


def test_the_kavlan_tutorial_flow(stack: LocalStack) -> None:
    roles, networks = inventory(stack)
    assert all(not host.net_devices for host in roles.all())
    synced = en.sync_info(roles, networks)
    assert all(not host.net_devices for host in roles.all())  # a copy by default
    server = synced["server"][0]
    address = server.filter_addresses(networks=networks["private"])[0]
    assert isinstance(address.ip, ipaddress.IPv4Interface)
    assert address.ip.ip in ipaddress.ip_network(PRIV)
    assert address.network in networks["private"]
    lan = server.filter_addresses(networks=networks["lan"])
    assert [a.ip.ip in ipaddress.ip_network(LAN) for a in lan] == [True]
    assert len(server.filter_addresses()) == 2  # the known ones: lan and priv
    assert server.filter_interfaces(networks=networks["private"]) != \
        server.filter_interfaces(networks=networks["lan"])
    assert server.has_address(address.ip.ip)
    assert synced.with_ip(str(address.ip.ip)) == {"server"}
    # the tutorial pings; these hosts have no ping, so reach the server's sshd instead
    probe = f"timeout 5 bash -c '</dev/tcp/{lan[0].ip.ip}/22' && echo reached"
    results = en.run_command(probe, roles=synced["client"])
    assert [r.host for r in results] == sorted(h.alias for h in roles["client"])
    assert all(r.ok() and r.rc == 0 and r.stdout == "reached" for r in results)


def test_sync_info_in_place_and_on_one_host(stack: LocalStack) -> None:
    roles, networks = inventory(stack)
    host = roles["client"][0]
    copy = en.sync_info(host, networks)
    assert isinstance(copy, Host) and copy is not host and not host.net_devices
    assert len(copy.filter_addresses(networks=networks["lan"])) == 1
    assert copy.filter_addresses(networks=networks["private"]) == []
    en.sync_info(roles, networks, inplace=True)
    assert all(len(h.filter_addresses()) >= 1 for h in roles.all())


def test_run_command_results_patterns_and_errors(stack: LocalStack) -> None:
    roles, _ = inventory(stack)
    results = en.run_command("hostname; echo err >&2", roles=roles, task_name="name")
    assert len(results) == 3 and {r.task for r in results} == {"name"}
    assert all(r.status == en.STATUS_OK and r.stderr == "err" for r in results)
    only = en.run_command("true", roles=roles, pattern_hosts="client:!client-1")
    assert [r.host for r in only] == ["client-2"]
    assert [r.host for r in en.run("true", roles["server"])] == ["server-1"]
    with pytest.raises(en.EnosFailedHostsError) as info:
        en.run_command("test $(hostname) = nothing", roles=roles, pattern_hosts="client")
    assert sorted(r.host for r in info.value.hosts) == ["client-1", "client-2"]
    assert "rc 1" in str(info.value)
    kept = en.run_command("exit 3", roles=roles["server"], on_error_continue=True)
    assert kept.filter(status=en.STATUS_FAILED)[0].rc == 3
    assert en.run_command("pwd", roles=roles["server"], chdir="/tmp")[0].stdout == "/tmp"
    with pytest.raises(en.EnosError, match="gather_facts not supported"):
        en.run_command("true", roles=roles, gather_facts=True)


def test_unreachable_hosts_are_reported_as_such(stack: LocalStack) -> None:
    roles, _ = inventory(stack)
    closed = roles["server"][0]
    nobody = Host(closed.address, alias="nobody", user="root", port=1)  # refused
    results = en.run_command("true", roles=[nobody], on_error_continue=True,
                             timeout=20)
    assert results[0].status == en.STATUS_UNREACHABLE
    with pytest.raises(en.EnosUnreachableHostsError):
        en.run_command("true", roles=nobody, timeout=20)


def test_init_logging_configures_the_root_logger(monkeypatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    assert en.init_logging(level=logging.DEBUG) is logging
    assert root.level == logging.DEBUG
    assert type(root.handlers[0]).__name__ == "RichHandler"
