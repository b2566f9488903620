"""Faults of the OpenStack emulator as openstacksdk sees them: quotas, ERROR, 5xx, latency, 401."""

from __future__ import annotations

import time
from typing import Any

import openstack
import pytest
import requests
from keystoneauth1.exceptions.http import Unauthorized
from openstack import exceptions

from bedform.emulators.openstack import OpenstackEmulator

pytest_plugins = ("bedform.emulators.openstack.testing",)
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]


def _network(conn: Any, name: str, cidr: str) -> Any:
    network = conn.network.create_network(name=name)
    conn.network.create_subnet(network_id=network.id, cidr=cidr, ip_version=4)
    return network


def _boot(conn: Any, name: str, network: Any, flavor: str = "m1.tiny") -> Any:
    image = conn.image.find_image("cirros-0.6.2")
    return conn.compute.create_server(name=name, image_id=image.id, flavor_id=flavor,
                                      networks=[{"uuid": network.id}])


def test_instance_and_core_quotas_refuse_with_novas_message(
    openstack_cloud: Any, openstack_emulator: OpenstackEmulator
) -> None:
    conn, emu = openstack_cloud, openstack_emulator
    network = _network(conn, "q-net", "10.1.0.0/24")
    answer = requests.post(f"{emu.base_url}/_emulator/quotas", timeout=10,
                           json={"project": "demo", "instances": 2})
    assert answer.json()["demo"]["instances"] == 2
    _boot(conn, "q-0", network)
    _boot(conn, "q-1", network)
    with pytest.raises(exceptions.ForbiddenException) as refused:
        _boot(conn, "q-2", network)
    assert refused.value.status_code == 403
    assert ("Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
            in str(refused.value))
    emu.set_quotas("demo", instances=10, cores=2)
    with pytest.raises(exceptions.ForbiddenException, match="Quota exceeded for cores"):
        _boot(conn, "q-big", network, flavor="m1.medium")
    limits = conn.compute.get_limits().absolute
    assert (limits.instances, limits.instances_used, limits.total_cores) == (10, 2, 2)


def test_floating_ip_quota_is_neutrons_409_over_quota(
    openstack_cloud: Any, openstack_emulator: OpenstackEmulator
) -> None:
    conn, emu = openstack_cloud, openstack_emulator
    emu.set_quotas("demo", floatingip=1)
    public = conn.network.find_network("public")
    conn.network.create_ip(floating_network_id=public.id)
    with pytest.raises(exceptions.ConflictException) as refused:
        conn.network.create_ip(floating_network_id=public.id)
    assert "Quota exceeded for resources: ['floatingip']." in str(refused.value)
    details = conn.network.get_quota(conn.current_project_id, details=True)
    assert details.floating_ips == {"limit": 1, "used": 1, "reserved": 0}


def test_server_error_fault_and_forced_error(
    openstack_cloud: Any, openstack_emulator: OpenstackEmulator
) -> None:
    conn, emu = openstack_cloud, openstack_emulator
    network = _network(conn, "err-net", "10.2.0.0/24")
    fault = emu.add_fault(kind="server_error", name="^doomed-", count=1)
    assert fault["kind"] == "server_error"
    doomed = _boot(conn, "doomed-0", network)
    fine = _boot(conn, "doomed-1", network)  # count=1: only the first build fails
    emu.advance(10)
    with pytest.raises(exceptions.ResourceFailure):
        conn.compute.wait_for_server(doomed, interval=0.01, wait=5)
    failed = conn.compute.get_server(doomed.id)
    assert failed.status == "ERROR" and "No valid host was found" in failed.fault["message"]
    assert failed.addresses == {}
    assert list(conn.network.ports(device_id=doomed.id)) == []
    assert conn.compute.wait_for_server(fine, interval=0.01, wait=5).status == "ACTIVE"
    answer = requests.post(f"{emu.base_url}/_emulator/servers/doomed-1", timeout=10,
                           json={"status": "ERROR", "message": "hypervisor lost"})
    assert answer.json()["status"] == "ERROR"
    broken = conn.compute.get_server(fine.id)
    assert broken.status == "ERROR" and broken.fault["message"] == "hypervisor lost"
    assert broken.addresses["err-net"][0]["OS-EXT-IPS:type"] == "fixed"


def test_injected_5xx_and_latency(
    openstack_cloud: Any, openstack_emulator: OpenstackEmulator
) -> None:
    conn, emu = openstack_cloud, openstack_emulator
    emu.add_fault(path="^/network/v2.0/networks$", method="GET", status=503, count=1)
    with pytest.raises(exceptions.HttpException) as failed:
        list(conn.network.networks())
    assert failed.value.status_code == 503
    assert [n.name for n in conn.network.networks()] == ["public"]
    emu.add_fault(path="^/image/v2/images$", latency_ms=300, count=1)
    started = time.monotonic()
    list(conn.image.images())
    assert time.monotonic() - started >= 0.3
    statuses = [r["status"] for r in emu.requests() if r["path"] == "/network/v2.0/networks"]
    assert statuses == [503, 200]


def test_bad_password_is_401_and_reset_restores_the_seed(
    openstack_cloud: Any, openstack_emulator: OpenstackEmulator
) -> None:
    conn, emu = openstack_cloud, openstack_emulator
    auth = {**emu.auth(), "password": "not-it"}
    with pytest.raises(Unauthorized) as refused:
        next(openstack.connect(auth=auth, region_name="RegionOne").network.networks())
    assert refused.value.http_status == 401
    conn.network.create_network(name="temporary")
    assert requests.post(f"{emu.base_url}/_emulator/reset", timeout=10).ok
    fresh = openstack.connect(**emu.auth(), region_name="RegionOne")
    assert [n.name for n in fresh.network.networks()] == ["public"]
    assert emu.requests()[0]["path"] in ("/v3", "/v3/auth/tokens")
