"""bedform.remote against real hosts of the local provider: parallel runs, jump hosts
(one and two hops), per-host timeout, unreachable hosts. Traffic stays inside the
198.18.201.0/24 network the module creates."""

from __future__ import annotations

import time

import pytest

from bedform import remote
from bedform.errors import EnosFailedHostsError, EnosUnreachableHostsError
from bedform.objects import Host
from tests.remote.conftest import NOBODY

pytestmark = [pytest.mark.root]


def via(host: Host, alias: str, **extra) -> Host:
    return Host(host.address, alias=alias, user=host.user, keyfile=host.keyfile,
                port=host.port, extra=extra)


def test_parallel_run_on_every_host(hosts) -> None:
    start = time.monotonic()
    results = remote.run(hosts.values(), "sleep 1; hostname; echo oops >&2")
    elapsed = time.monotonic() - start
    assert sorted(results) == sorted(hosts)
    for alias, result in results.items():
        assert result.ok and result.rc == 0
        assert result.stdout.strip() == alias
        assert result.stderr.strip() == "oops"
    assert elapsed < 3.5, f"4 hosts x 1 s took {elapsed:.1f} s: not parallel"


def test_run_many_and_failures_name_the_hosts(hosts) -> None:
    one, two, three = (hosts[f"node-{i}"] for i in (1, 2, 3))
    results = remote.run_many({one: "echo a", two: "echo b"})
    assert (results["node-1"].stdout, results["node-2"].stdout) == ("a\n", "b\n")
    with pytest.raises(EnosFailedHostsError) as caught:
        remote.run_many([(one, "true"), (two, "echo bad >&2; exit 3"), (three, "exit 4")])
    error = caught.value
    assert sorted(h.alias for h in error.hosts) == ["node-2", "node-3"]
    assert "node-2 (exit 3: bad)" in str(error) and "node-3 (exit 4)" in str(error)
    assert error.results["node-1"].ok
    quiet = remote.run([two], "exit 5", check=False)
    assert quiet["node-2"].rc == 5


def test_jump_host(hosts) -> None:
    gateway, target = hosts["node-1"], hosts["node-2"]
    jumped = via(target, "node-2-via-1", gateway=gateway.address, gateway_user="root")
    direct = remote.run([target], "echo $SSH_CLIENT")["node-2"].stdout.split()[0]
    seen = remote.run([jumped], "echo $SSH_CLIENT")["node-2-via-1"].stdout.split()[0]
    assert seen == gateway.address          # the connection came from the gateway
    assert direct != gateway.address


def test_two_hops(hosts) -> None:
    outer, inner, target = hosts["node-1"], hosts["node-3"], hosts["node-4"]
    jumped = via(target, "two-hops", gateway=outer.address, internal_gateway=inner.address,
                 internal_gateway_user="root", gateway_port=22)
    seen = remote.run([jumped], "echo $SSH_CLIENT")["two-hops"].stdout.split()[0]
    assert seen == inner.address


def test_timeout_names_the_host(hosts) -> None:
    start = time.monotonic()
    with pytest.raises(EnosFailedHostsError) as caught:
        remote.run([hosts["node-1"], hosts["node-2"]], "sleep 30", timeout=1)
    assert time.monotonic() - start < 8
    assert sorted(h.alias for h in caught.value.hosts) == ["node-1", "node-2"]
    assert "node-1 (timed out after 1 s)" in str(caught.value)
    assert caught.value.results["node-1"].timed_out
    assert caught.value.results["node-1"].rc is None
    remote.run([hosts["node-1"], hosts["node-2"]], "pkill -x sleep || true")


def test_unreachable_host_is_named(hosts) -> None:
    ghost = via(hosts["node-1"], "ghost")
    ghost.address = NOBODY
    behind = via(hosts["node-2"], "behind-ghost", gateway=NOBODY)
    start = time.monotonic()
    with pytest.raises(EnosUnreachableHostsError) as caught:
        remote.run([ghost, behind, hosts["node-3"]], "true", connect_timeout=2, timeout=20)
    assert time.monotonic() - start < 15
    assert sorted(h.alias for h in caught.value.hosts) == ["behind-ghost", "ghost"]
    assert "ghost (" in str(caught.value)
    assert caught.value.results["node-3"].ok


def test_ssh_argv_honours_user_port_key() -> None:
    host = Host("10.0.0.1", alias="n", user="bob", port=2222, keyfile="/k",
                extra={"gateway": "gw", "gateway_user": "alice"})
    argv = remote.ssh_argv(host, "uptime")
    assert argv[-3:] == ["--", "10.0.0.1", "uptime"]
    assert argv[argv.index("-l") + 1] == "bob" and argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-i") + 1] == "/k"
    proxy = next(a for a in argv if a.startswith("ProxyCommand="))
    assert "-l alice" in proxy and proxy.endswith(" gw") and "%h:%p" in proxy
    assert remote.run([], "true") == {}
