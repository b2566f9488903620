"""openstacksdk drives the OpenStack emulator through a user's whole cycle."""

from __future__ import annotations

from typing import Any

import openstack
import pytest
from openstack import exceptions

from bedform.emulators.openstack import OpenstackEmulator

pytest_plugins = ("bedform.emulators.openstack.testing",)
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJH3J2gbH2n3VbM8mJd7p8Rj3m2u0kq1x9wqJ4Zr5tQx alice@laptop"
)


def _wait_active(conn: Any, emu: OpenstackEmulator, server: Any) -> Any:
    """Advance the virtual clock past the build time, then wait (bounded) for ACTIVE."""
    emu.advance(10)
    return conn.compute.wait_for_server(server, status="ACTIVE", interval=0.01, wait=5)


def test_full_user_cycle(openstack_cloud: Any, openstack_emulator: OpenstackEmulator) -> None:
    conn, emu = openstack_cloud, openstack_emulator
    images = {image.name: image for image in conn.image.images()}
    assert {"debian-12", "ubuntu-22.04"} <= set(images)
    flavors = {flavor.name: flavor for flavor in conn.compute.flavors()}
    assert flavors["m1.xlarge"].id == "5"
    assert flavors["m1.small"].extra_specs == {}
    assert flavors["m1.medium"].extra_specs == {"hw:cpu_policy": "shared"}
    assert conn.compute.find_flavor("m1.xlarge").id == "5"
    assert conn.image.find_image("debian-12").id == images["debian-12"].id

    keypair = conn.compute.create_keypair(name="bf-key", public_key=PUBLIC_KEY)
    assert keypair.fingerprint.count(":") == 15
    assert conn.compute.find_keypair("bf-key").public_key == PUBLIC_KEY

    external = next(conn.network.networks(is_router_external=True))
    assert external.name == "public" and external.subnet_ids
    network = conn.network.create_network(name="bf-net")
    subnet = conn.network.create_subnet(name="bf-subnet", network_id=network.id,
                                        cidr="10.20.0.0/24", ip_version=4,
                                        dns_nameservers=["9.9.9.9"])
    assert subnet.gateway_ip == "10.20.0.1"
    assert subnet.allocation_pools == [{"start": "10.20.0.2", "end": "10.20.0.254"}]
    router = conn.network.create_router(name="bf-router",
                                        external_gateway_info={"network_id": external.id})
    gateway_ips = router.external_gateway_info["external_fixed_ips"]
    assert gateway_ips[0]["ip_address"].startswith("172.24.4.")
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    interface = next(conn.network.ports(device_id=router.id,
                                        device_owner="network:router_interface"))
    assert interface.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.20.0.1"}]

    group = conn.network.create_security_group(name="bf-sg", description="bedform")
    conn.network.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                            protocol="tcp", port_range_min=22,
                                            port_range_max=22, remote_ip_prefix="0.0.0.0/0")
    conn.network.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                            protocol="icmp")
    rules = list(conn.network.security_group_rules(security_group_id=group.id))
    assert len(rules) == 4  # the two egress rules Neutron adds, and ours
    assert conn.network.find_security_group("default") is not None

    servers = [conn.compute.create_server(
        name=f"bf-node-{i}", image_id=images["debian-12"].id, flavor_id=flavors["m1.small"].id,
        networks=[{"uuid": network.id}], key_name="bf-key",
        security_groups=[{"name": "bf-sg"}]) for i in range(3)]
    assert conn.compute.get_server(servers[0].id).status == "BUILD"
    servers = [_wait_active(conn, emu, server) for server in servers]
    assert {server.status for server in servers} == {"ACTIVE"}
    found = list(conn.compute.servers(name="^bf-node-"))
    assert sorted(s.name for s in found) == ["bf-node-0", "bf-node-1", "bf-node-2"]
    assert list(conn.compute.servers(name="^node")) == []
    first = conn.compute.get_server(servers[0].id)
    fixed = first.addresses["bf-net"][0]
    assert fixed["OS-EXT-IPS:type"] == "fixed" and fixed["addr"].startswith("10.20.0.")
    assert first.flavor.original_name == "m1.small"  # 2.47+ shape
    assert first.key_name == "bf-key"
    assert first.security_groups == [{"name": "bf-sg"}]

    port = next(conn.network.ports(device_id=first.id))
    assert port.device_owner == "compute:nova" and port.security_group_ids == [group.id]
    fip = conn.network.create_ip(floating_network_id=external.id)
    assert fip.floating_ip_address.startswith("172.24.4.") and fip.port_id is None
    conn.network.update_ip(fip, port_id=port.id)
    addresses = conn.compute.get_server(first.id).addresses["bf-net"]
    assert [a["OS-EXT-IPS:type"] for a in addresses] == ["fixed", "floating"]
    assert addresses[1]["addr"] == fip.floating_ip_address
    assert addresses[1]["OS-EXT-IPS-MAC:mac_addr"] == port.mac_address
    fetched = conn.network.get_ip(fip.id)
    assert fetched.fixed_ip_address == fixed["addr"] and fetched.router_id == router.id
    assert next(conn.network.ips(floating_ip_address=fip.floating_ip_address)).id == fip.id

    # Destroy in reverse order; each step leaves nothing behind.
    conn.network.delete_ip(fip)
    for server in servers:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, interval=0.01, wait=5)
    assert list(conn.compute.servers()) == []
    assert list(conn.network.ports(device_owner="compute:nova")) == []
    conn.network.remove_interface_from_router(router, subnet=subnet.id)
    conn.network.delete_router(router)
    conn.network.delete_subnet(subnet)
    conn.network.delete_network(network)
    conn.network.delete_security_group(group)
    conn.compute.delete_keypair("bf-key")
    assert [n.name for n in conn.network.networks()] == ["public"]
    assert list(conn.network.routers()) == [] and list(conn.network.ips()) == []
    assert [g.name for g in conn.network.security_groups()] == ["default"]
    assert list(conn.compute.keypairs()) == []


def test_cloud_layer_create_server_with_auto_ip(
    openstack_cloud: Any, openstack_emulator: OpenstackEmulator
) -> None:
    conn, emu = openstack_cloud, openstack_emulator
    emu.clock.set_speed(50.0)  # the cloud layer polls on its own; let the build finish
    network = conn.create_network("auto-net")
    subnet = conn.create_subnet(network.id, cidr="10.30.0.0/24", subnet_name="auto-subnet")
    router = conn.create_router("auto-router", ext_gateway_net_id=conn.get_network("public").id)
    conn.add_router_interface(router, subnet_id=subnet.id)
    server = conn.create_server("auto-vm", image="cirros-0.6.2", flavor="m1.tiny",
                                network="auto-net", wait=True, auto_ip=True, timeout=30)
    assert server.status == "ACTIVE"
    assert server.addresses["auto-net"][1]["OS-EXT-IPS:type"] == "floating"
    server = conn.get_server("auto-vm")  # the cloud layer's view, with its address lookups
    assert server.public_v4.startswith("172.24.4.")
    assert server.private_v4.startswith("10.30.0.")
    assert conn.delete_server("auto-vm", wait=True, delete_ips=True, timeout=30)
    assert conn.list_floating_ips() == []


def test_existing_resources_conflict_and_missing_ones_are_404(
    openstack_cloud: Any,
) -> None:
    conn = openstack_cloud
    network = conn.network.create_network(name="busy")
    subnet = conn.network.create_subnet(network_id=network.id, cidr="10.9.0.0/24", ip_version=4)
    conn.network.create_port(network_id=network.id, name="held")
    with pytest.raises(exceptions.ConflictException, match="one or more ports"):
        conn.network.delete_network(network)
    with pytest.raises(exceptions.ConflictException, match="IP allocation"):
        conn.network.delete_subnet(subnet)
    with pytest.raises(exceptions.NotFoundException, match="could not be found"):
        conn.network.get_network("0b1f6d2e-0000-4000-8000-000000000000")
    with pytest.raises(exceptions.NotFoundException):
        conn.compute.get_server("0b1f6d2e-0000-4000-8000-000000000000")
    with pytest.raises(exceptions.BadRequestException, match="overlaps"):
        conn.network.create_subnet(network_id=network.id, cidr="10.9.0.128/25", ip_version=4)
    router = conn.network.create_router(name="r")
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    with pytest.raises(exceptions.ConflictException, match="still has ports"):
        conn.network.delete_router(router)
    held = next(conn.network.ports(name="held"))
    fip_net = conn.network.find_network("public")
    fip = conn.network.create_ip(floating_network_id=fip_net.id)
    with pytest.raises(exceptions.NotFoundException, match="not reachable"):
        conn.network.update_ip(fip, port_id=held.id)


def test_application_credential_and_project_scope_by_id(
    openstack_emulator: OpenstackEmulator,
) -> None:
    emu = openstack_emulator
    conn = openstack.connect(auth_type="v3applicationcredential", region_name="RegionOne",
                             auth=emu.app_credential("bob"))
    assert [n.name for n in conn.network.networks()] == ["public"]
    auth = emu.auth("alice", "other")
    auth.pop("project_name")
    auth.pop("project_domain_name")
    other = openstack.connect(auth=auth, region_name="RegionOne")
    other.network.create_network(name="only-in-other")
    assert conn.current_project_id != other.current_project_id
    assert [n.name for n in conn.network.networks()] == ["public"]
    assert sorted(n.name for n in other.network.networks()) == ["only-in-other", "public"]
