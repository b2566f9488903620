"""bedform's own `blazar_lease` kind (chameleonbaremetal) against the real Blazar 10.0.0
of `scripts/openstack-real.sh up --blazar`, through the CLI: plan and apply with
`--target cbm.lease` (the fixture has no Blazar Nova filter, so no server can boot into
the reservation: the lease is applied alone, with what it depends on, the shared network
read by name), the bounded wait for ACTIVE with progress, a no-op apply, a walltime
extended in place, destroy (the host back in Nova's `freepool`), and the refusal of a
second stack while the first holds the fixture's only compute_haswell host."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from blazarclient.exception import BlazarClientException

from bedform.providers.chameleon.blazar import epoch, utc
from tests.chameleon.conftest import Stack
from tests.openstack_real.fixture import BLAZAR_LOG, CLOUD, RealCloud
from tests.openstack_real.test_blazar_real import HOST, NODE_TYPE, blazar, hosts_of, wait_for

pytestmark = [pytest.mark.openstack_real,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
PREFIX = "bf-kind-"
LEASE = "cbm.lease"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")


def section(lease_name: str, walltime: str, **top: Any) -> dict[str, Any]:
    """A chameleonbaremetal section on the real cloud: one compute_haswell host."""
    return {"type": "chameleonbaremetal", "cloud": CLOUD, "key_name": "cf",
            "lease_name": lease_name, "walltime": walltime, "image": "debian-12", **top,
            "resources": {"machines": [{"roles": ["server"], "flavour": NODE_TYPE,
                                        "number": 1}],
                          "networks": ["lan"]}}


def timed(stack: Stack, *args: str) -> tuple[Any, float]:
    """The CLI run on the stack, and how long it took (s)."""
    began = time.monotonic()
    result = stack.run(*args)
    return result, time.monotonic() - began


def lease_named(client: Any, name: str) -> dict[str, Any]:
    [lease] = [x for x in client.lease.list() if x["name"] == name]
    return dict(lease)


def recorded_lease(stack: Stack) -> dict[str, Any]:
    """The lease's attributes in the stack's state file."""
    state = json.loads((stack.file.parent / ".bedform" / "state.json").read_text())
    return dict(state["resources"][LEASE]["attributes"])


def mutations(cloud: RealCloud, user_id: str) -> list[dict[str, str]]:
    """The test user's mutating requests so far, from Blazar's, Nova's and Neutron's logs."""
    return [r for r in cloud.requests(user_id, extra=(BLAZAR_LOG,)) if r["method"] in MUTATING]


@pytest.fixture
def chameleon_site(openstack_real_blazar: RealCloud, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[Any]:
    """The real cloud as a Chameleon site for the CLI: clouds.yaml in the environment,
    the shared network `sharednet1` the bare-metal provider reads (made in the test
    project), and the Blazar client. Teardown deletes the test's leases and the network,
    then waits for the host to be back in the free pool."""
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(openstack_real_blazar.clouds))
    conn = openstack_real_blazar.connect()
    admin = openstack_real_blazar.connect(admin=True)
    network = conn.network.find_network("sharednet1") or \
        conn.network.create_network(name="sharednet1")
    if conn.network.find_subnet("sharednet1-subnet") is None:
        conn.network.create_subnet(name="sharednet1-subnet", network_id=network.id,
                                   ip_version=4, cidr="10.140.80.0/22")
    client = blazar(openstack_real_blazar)
    try:
        yield client
    finally:
        for lease in client.lease.list():
            if lease["name"].startswith(PREFIX):
                client.lease.delete(lease["id"])
        wait_for(lambda: [x for x in client.lease.list() if x["name"].startswith(PREFIX)],
                 lambda left: not left, "the test's leases to be deleted", 60)
        wait_for(lambda: hosts_of(admin, "freepool"), lambda hosts: HOST in hosts,
                 "the host back in the free pool", 60)
        conn.network.delete_network(network.id)
        conn.close()
        admin.close()


def test_lease_created_waited_extended_destroyed(chameleon_site: Any, tmp_path: Path,
                                                 openstack_real_blazar: RealCloud) -> None:
    cloud, client = openstack_real_blazar, chameleon_site
    admin, conn = cloud.connect(admin=True), cloud.connect()
    user_id = conn.current_user_id
    # a start at a whole minute 70-130 s ahead: the apply shows "starts at" while PENDING
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=2)
    if start - dt.datetime.now(dt.UTC) > dt.timedelta(seconds=130):
        start -= dt.timedelta(minutes=1)
    reservation = start.strftime("%Y-%m-%d %H:%M")
    stack = Stack(tmp_path / "a", name="bfkinda").write(
        cbm=section(f"{PREFIX}a", "01:00:00", reservation=reservation))

    plan, _ = timed(stack, "plan", "--target", LEASE)
    assert plan.exit_code == 0, plan.output
    assert f'+ blazar_lease "{LEASE}"' in plan.output
    assert 'hosts = {"compute_haswell": 1}' in plan.output
    # the lease and what it depends on (the shared network and subnet, read), no server
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in plan.output
    assert "os_server" not in plan.output

    applied, seconds = timed(stack, "apply", "--auto-approve", "--target", LEASE)
    assert applied.exit_code == 0, applied.output
    print(f"apply (lease starting {reservation}): {seconds:.1f} s")
    assert f"lease {PREFIX}a starts at {reservation} UTC" in applied.output
    lease = lease_named(client, f"{PREFIX}a")
    assert lease["status"] == "ACTIVE"
    assert dt.datetime.now(dt.UTC) >= start
    assert lease["start_date"].startswith(start.strftime("%Y-%m-%dT%H:%M"))
    reservation_id = lease["reservations"][0]["id"]
    assert HOST in hosts_of(admin, reservation_id)
    assert HOST not in hosts_of(admin, "freepool")

    # no-op: the plan and a second apply change nothing, no mutating request anywhere
    before = len(mutations(cloud, user_id))
    plan, seconds = timed(stack, "plan", "--target", LEASE, "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    again, _ = timed(stack, "apply", "--auto-approve", "--target", LEASE)
    assert again.exit_code == 0 and "No changes." in again.output, again.output
    assert mutations(cloud, user_id)[before:] == []
    print(f"no-op plan: {seconds:.1f} s")

    # a longer walltime moves the end in place: the same lease, UPDATING then ACTIVE
    stack.write(cbm=section(f"{PREFIX}a", "02:00:00", reservation=reservation))
    plan, _ = timed(stack, "plan", "--target", LEASE)
    assert plan.exit_code == 0, plan.output
    assert f'~ blazar_lease "{LEASE}"' in plan.output and "-/+" not in plan.output
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.output
    before = len(mutations(cloud, user_id))
    extended, seconds = timed(stack, "apply", "--auto-approve", "--target", LEASE)
    assert extended.exit_code == 0, extended.output
    print(f"extend: {seconds:.1f} s")
    new_end = start + dt.timedelta(hours=2)
    assert [(r["method"], r["path"]) for r in mutations(cloud, user_id)[before:]] == [
        ("PUT", f"/v1/leases/{lease['id']}")]
    lease = lease_named(client, f"{PREFIX}a")
    assert lease["status"] == "ACTIVE"
    assert lease["end_date"].startswith(new_end.strftime("%Y-%m-%dT%H:%M"))
    assert lease["reservations"][0]["id"] == reservation_id
    # Blazar answered the PUT with UPDATING: the state records the lease once settled
    recorded = recorded_lease(stack)
    assert recorded["status"] == "ACTIVE"
    assert recorded["end_date"] == epoch(lease["end_date"])
    plan, _ = timed(stack, "plan", "--target", LEASE, "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output

    destroyed, seconds = timed(stack, "destroy", "--auto-approve")
    assert destroyed.exit_code == 0, destroyed.output
    print(f"destroy: {seconds:.1f} s")
    assert [x for x in client.lease.list() if x["name"] == f"{PREFIX}a"] == []
    with pytest.raises(BlazarClientException) as gone:   # the emulator answers the same
        client.lease.get(lease["id"])
    assert gone.value.kwargs["code"] == 404
    assert str(gone.value) == f"ERROR: Object with {{'lease_id': '{lease['id']}'}} not found"
    wait_for(lambda: hosts_of(admin, "freepool"), lambda hosts: HOST in hosts,
             "the host back in the free pool", 60)
    assert [x for x in conn.network.networks() if x.name == "sharednet1"] != []  # read only


def test_second_stack_refused_while_the_host_is_held(chameleon_site: Any, tmp_path: Path
                                                     ) -> None:
    client = chameleon_site
    first = Stack(tmp_path / "a", name="bfkinda").write(cbm=section(f"{PREFIX}a", "01:00:00"))
    applied, seconds = timed(first, "apply", "--auto-approve", "--target", LEASE)
    assert applied.exit_code == 0, applied.output
    print(f"apply (lease starting now): {seconds:.1f} s")
    held = lease_named(client, f"{PREFIX}a")
    assert held["status"] == "ACTIVE"
    ends = utc(epoch(held["end_date"]))

    second = Stack(tmp_path / "b", name="bfkindb").write(
        cbm=section(f"{PREFIX}b", "00:30:00"))
    refused, seconds = timed(second, "apply", "--auto-approve", "--target", LEASE)
    print(f"refused apply: {seconds:.1f} s")
    assert refused.exit_code == 1, refused.output
    assert "Traceback" not in refused.output
    message = " ".join(refused.output.split())
    print(message)
    assert f"lease {PREFIX}b refused by Blazar: Not enough hosts available" in message
    assert re.search(rf"{NODE_TYPE}: 0 of 1 host\(s\) free for 00:30:00 from "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d UTC \(1 on the site\); "
                     rf"enough free from {re.escape(ends)}", message), message
    assert [x["name"] for x in client.lease.list()] == [f"{PREFIX}a"]
    plan, _ = timed(second, "plan", "--target", LEASE, "--detailed-exitcode")
    assert plan.exit_code == 2 and f'+ blazar_lease "{LEASE}"' in plan.output, plan.output

    # the host freed, the same apply converges
    destroyed, _ = timed(first, "destroy", "--auto-approve")
    assert destroyed.exit_code == 0, destroyed.output
    converged, seconds = timed(second, "apply", "--auto-approve", "--target", LEASE)
    assert converged.exit_code == 0, converged.output
    print(f"apply after the host was freed: {seconds:.1f} s")
    assert [(x["name"], x["status"]) for x in client.lease.list()] == [(f"{PREFIX}b", "ACTIVE")]
    destroyed, _ = timed(second, "destroy", "--auto-approve")
    assert destroyed.exit_code == 0, destroyed.output
    assert client.lease.list() == []
