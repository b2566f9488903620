"""python-blazarclient against the real Blazar 10.0.0 (`scripts/openstack-real.sh up
--blazar`): a physical:host lease on the fixture's one host (node_type compute_haswell)
goes ACTIVE at its start, a whole minute; it is extended; deleted, it gives the host
back to the free pool; a lease no host can serve is refused. The refusals' exact words
and codes are asserted here and listed in docs/openstack.md for the emulator to match."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.openstack_real.fixture import RealCloud

pytestmark = [pytest.mark.openstack_real,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
HOST, NODE_TYPE = "bedform-host", "compute_haswell"
#: Blazar's words (Zed, measured): no host matches, or none is free in the window.
NOT_ENOUGH_HOSTS = "Not enough hosts available"


def blazar(cloud: RealCloud) -> Any:
    """python-blazarclient as the test user, through keystoneauth."""
    from blazarclient import client as blazar_client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = cloud.auth()
    password = v3.Password(auth_url=auth["auth_url"], username=auth["username"],
                           password=auth["password"], project_name=auth["project_name"],
                           user_domain_name="Default", project_domain_name="Default")
    return blazar_client.Client(session=session.Session(auth=password),
                                service_type="reservation", region_name="RegionOne")


def minute(moment: dt.datetime) -> str:
    """Blazar's input format, `YYYY-MM-DD HH:MM` (UTC)."""
    return moment.strftime("%Y-%m-%d %H:%M")


def host_reservation(node_type: str) -> dict[str, Any]:
    """Chameleon's node reservation (EnOSlib's body): one host of `node_type`."""
    return {"resource_type": "physical:host", "min": 1, "max": 1,
            "resource_properties": f'["=", "$node_type", "{node_type}"]',
            "hypervisor_properties": ""}


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool], what: str,
             timeout: float) -> Any:
    """Poll `read` every 2 s until `done`, at most `timeout` seconds (says what)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"gave up after {timeout:.0f}s: {what}"
        time.sleep(2)


def hosts_of(conn: Any, aggregate: str) -> list[str]:
    return next((list(a.hosts or []) for a in conn.compute.aggregates()
                 if a.name == aggregate), [])


@pytest.fixture
def leases(openstack_real_blazar: RealCloud) -> Iterator[Any]:
    """The client; every lease it made is deleted at teardown."""
    client = blazar(openstack_real_blazar)
    yield client
    for lease in client.lease.list():
        if lease["name"].startswith("bf-real-"):
            client.lease.delete(lease["id"])
    wait_for(lambda: [x for x in client.lease.list() if x["name"].startswith("bf-real-")],
             lambda left: not left, "the test's leases to be deleted", 60)


def test_host_lease_active_extended_deleted(leases: Any,
                                            openstack_real_blazar: RealCloud) -> None:
    from blazarclient import exception

    admin = openstack_real_blazar.connect(admin=True)
    now = dt.datetime.now(dt.UTC)
    start = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    end = start + dt.timedelta(hours=1)
    lease = leases.lease.create(name="bf-real-1", start=minute(start), end=minute(end),
                                reservations=[host_reservation(NODE_TYPE)], events=[])
    assert lease["status"] == "PENDING"
    assert lease["start_date"].startswith(start.strftime("%Y-%m-%dT%H:%M:00"))
    assert [r["resource_type"] for r in lease["reservations"]] == ["physical:host"]

    # the only host is taken over that window: a second lease is refused
    with pytest.raises(exception.BlazarClientException) as refused:
        leases.lease.create(name="bf-real-2", start=minute(start), end=minute(end),
                            reservations=[host_reservation(NODE_TYPE)], events=[])
    assert refused.value.kwargs["code"] == 500  # sic: Blazar answers 500
    assert str(refused.value) == f"ERROR: {NOT_ENOUGH_HOSTS}"

    active = wait_for(lambda: leases.lease.get(lease["id"]),
                      lambda x: x["status"] in ("ACTIVE", "ERROR"),
                      "the lease to start (at the next whole minute)", 150)
    assert active["status"] == "ACTIVE"
    assert dt.datetime.now(dt.UTC) >= start
    reservation = active["reservations"][0]
    assert reservation["status"] == "active"
    assert HOST in hosts_of(admin, reservation["id"])
    assert HOST not in hosts_of(admin, "freepool")

    later = end + dt.timedelta(hours=1)
    extended = leases.lease.update(lease["id"], end_date=minute(later))
    assert extended["end_date"].startswith(later.strftime("%Y-%m-%dT%H:%M:00"))
    assert extended["status"] == "UPDATING"  # as answered to the PUT, then ACTIVE
    extended = wait_for(lambda: leases.lease.get(lease["id"]),
                        lambda x: x["status"] != "UPDATING", "the update to end", 60)
    assert extended["status"] == "ACTIVE"
    assert extended["end_date"].startswith(later.strftime("%Y-%m-%dT%H:%M:00"))

    leases.lease.delete(lease["id"])
    wait_for(lambda: [x["id"] for x in leases.lease.list()],
             lambda ids: lease["id"] not in ids, "the lease to be deleted", 60)
    wait_for(lambda: hosts_of(admin, "freepool"), lambda hosts: HOST in hosts,
             "the host back in the free pool", 60)


def test_no_host_of_that_type_is_refused(leases: Any) -> None:
    from blazarclient import exception

    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    with pytest.raises(exception.BlazarClientException) as refused:
        leases.lease.create(name="bf-real-3", start=minute(start),
                            end=minute(start + dt.timedelta(hours=1)),
                            reservations=[host_reservation("gpu_rtx_6000")], events=[])
    assert refused.value.kwargs["code"] == 500  # sic: Blazar answers 500
    assert str(refused.value) == f"ERROR: {NOT_ENOUGH_HOSTS}"
    assert [x for x in leases.lease.list() if x["name"] == "bf-real-3"] == []
