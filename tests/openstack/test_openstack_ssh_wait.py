"""The SSH readiness step (`wait_ssh: true`): planned after the servers and the floating
IP, bounded, and its timeout names what it waited for. The emulator's servers answer no
SSH, so it can only time out here (box mode proves the success). The subnet is on
loopback and there is no gateway, so the probes never leave this machine."""

from __future__ import annotations

from bedform.providers.openstack import readiness
from tests.openstack.conftest import section


def test_ssh_wait_is_bounded_and_says_what_it_waited_for(stack, monkeypatch):
    monkeypatch.setattr(readiness, "SSH_WAIT", 1.0)
    stack.write(**section(servers=1, wait_ssh=True, gateway=False,
                          subnet={"name": "lo", "cidr": "127.87.23.0/24"}))
    plan = stack.run("plan")
    assert "# os.ssh_ready will be created" in plan.output, plan.output
    result = stack.run("apply", "--auto-approve")
    assert result.exit_code == 1, result.output
    assert "os.ssh_ready" in result.output
    assert "waiting for SSH on 2 server(s)" in result.output, result.output
    assert "wait_ssh: false" in result.output
    servers = [r for r in stack.state().resources.values() if r.kind == "os_server"]
    assert len(servers) == 2 and all(r.status == "ready" for r in servers)
