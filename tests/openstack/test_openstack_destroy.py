"""Destroy removes every object of the stack, in reverse order, and nothing of another
stack; a pre-existing network read with `configure_network: false` is never deleted."""

from __future__ import annotations

from tests.openstack.conftest import OpenstackStack, connection, section


def inventory(conn) -> dict[str, list[str]]:
    return {
        "servers": sorted(s.name for s in conn.compute.servers()),
        "networks": sorted(n.name for n in conn.network.networks()),
        "subnets": sorted(s.name for s in conn.network.subnets()),
        "routers": sorted(r.name for r in conn.network.routers()),
        "security_groups": sorted(g.name for g in conn.network.security_groups()),
        "floating_ips": sorted(ip.description for ip in conn.network.ips()),
        "ports": sorted(p.id for p in conn.network.ports()),
    }


def test_destroy_leaves_nothing_of_the_stack_and_another_stack_untouched(stack, emu,
                                                                         tmp_path):
    other = OpenstackStack(tmp_path / "other", emu, name="other")
    other.write(**section(servers=1)).apply()
    conn = connection(emu)
    before = inventory(conn)
    stack.write(**section()).apply()
    during = inventory(conn)
    assert len(during["servers"]) == 6 and len(during["floating_ips"]) == 2
    emu.clear_requests()
    result = stack.run("destroy", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert inventory(conn) == before
    assert not stack.state().resources
    deletes = [m for m in stack.mutations() if m.startswith("DELETE")]
    kinds = [path.split("/")[3] if "/network/" in path else "servers" for path in
             (m.split(" ", 1)[1] for m in deletes)]
    # the floating IP and servers first, the security group, network and subnet last
    assert kinds.index("floatingips") < kinds.index("routers") < kinds.index("subnets") \
        < kinds.index("networks")
    assert max(i for i, k in enumerate(kinds) if k == "servers") < kinds.index("subnets")
    assert "PUT /network/v2.0/routers/" in " ".join(stack.mutations())  # interface removed


def test_preexisting_network_is_read_and_never_deleted(stack, emu, tmp_path):
    owner = OpenstackStack(tmp_path / "owner", emu, name="owner")
    owner.write(**section(servers=0)).apply()
    conn = connection(emu)
    network = conn.network.find_network("owner-network")
    stack.write(**section(servers=1, configure_network=False,
                          network={"name": "owner-network"},
                          subnet={"name": "owner-subnet"}))
    plan = stack.run("plan")
    assert "os.router" not in plan.output, plan.output
    stack.apply()
    records = stack.state().resources
    assert records["os.network"].attributes["id"] == network.id
    assert records["os.network"].attributes["managed"] is False
    hosts = stack.state().outputs["roles"]["client"]
    assert hosts[0]["address"].startswith("10.87.23.")
    result = stack.run("destroy", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert conn.network.find_network("owner-network") is not None
    assert conn.network.find_subnet("owner-subnet") is not None
    assert [s.name for s in conn.compute.servers()] == ["owner-0-0"]


def test_missing_preexisting_network_is_a_clear_error(stack):
    stack.write(**section(servers=1, configure_network=False,
                          network={"name": "nowhere"}))
    result = stack.run("apply", "--auto-approve")
    assert result.exit_code == 1
    assert "os.network" in result.output and "no network named 'nowhere'" in result.output
    assert "configure_network" in result.output


def test_a_same_named_server_of_someone_else_is_never_taken(stack, emu, tmp_path):
    intruder = OpenstackStack(tmp_path / "intruder", emu, name="intruder")
    intruder.write(**section(servers=0, prefix="osexp")).apply()
    result = stack.write(**section(servers=0, network={"name": "mine"},
                                   subnet={"name": "mine"})).run("apply", "--auto-approve")
    assert "os.server[0-0]" in result.output
    assert result.exit_code == 1
    assert "was not made by this stack" in result.output, result.output
    assert "prefix" in result.output
    assert intruder.run("destroy", "--auto-approve").exit_code == 0
