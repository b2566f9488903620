"""EnOSlib's enos_openstack call sequence (other-apis.md §2.4) with the clients it uses:
keystoneauth1 v3.Password from an openrc, novaclient 2.1, neutronclient, glanceclient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from glanceclient import client as glance_client
from keystoneauth1 import session
from keystoneauth1.identity import v3
from neutronclient.v2_0 import client as neutron_client
from novaclient import client as nova_client
from novaclient import exceptions as nova_exceptions

from bedform.emulators.openstack import OpenstackEmulator

pytest_plugins = ("bedform.emulators.openstack.testing",)
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]
PUBLIC_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 enos@host"


def _read_rc(path: Path) -> dict[str, str]:
    """EnOSlib's parser: every line with ``export`` split on ``=``, quotes stripped."""
    env = {}
    for line in path.read_text().splitlines():
        if "export" in line:
            key, value = line.replace("export", "").strip().split("=")
            env[key] = value.strip('"').strip("'")
    return env


def _clients(env: dict[str, str]) -> tuple[Any, Any, Any]:
    assert env["OS_AUTH_TYPE"] == "password" and env["OS_IDENTITY_API_VERSION"] == "3"
    auth = v3.Password(auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"],
                       password=env["OS_PASSWORD"], project_id=env["OS_PROJECT_ID"],
                       user_domain_name=env["OS_USER_DOMAIN_NAME"])
    sess = session.Session(auth=auth)
    region = env["OS_REGION_NAME"]
    return (nova_client.Client("2.1", session=sess, region_name=region),
            neutron_client.Client(session=sess, region_name=region),
            glance_client.Client("2", session=sess, region_name=region))


def test_enoslib_sequence_with_its_clients(
    openstack_emulator: OpenstackEmulator, tmp_path: Path
) -> None:
    emu = openstack_emulator
    nova, neutron, glance = _clients(_read_rc(emu.write_openrc(tmp_path / "openrc")))

    # init: environment checks
    images = {image["name"]: image["id"] for image in glance.images.list(limit=200)}
    assert glance.schemas.get("image").name == "image"
    flavors = {flavor.name: flavor.id for flavor in nova.flavors.list()}
    groups = neutron.list_security_groups()["security_groups"]
    assert "enos-secgroup" not in [g["name"] for g in groups]
    group = neutron.create_security_group({"security_group": {
        "name": "enos-secgroup", "description": "Enos Security Group"}})["security_group"]
    neutron.create_security_group_rule({"security_group_rule": {
        "protocol": "tcp", "direction": "ingress", "port_range_min": "1",
        "port_range_max": "65535", "security_group_id": group["id"]}})
    neutron.create_security_group_rule({"security_group_rule": {
        "protocol": "icmp", "direction": "ingress", "security_group_id": group["id"]}})
    external = next(n for n in neutron.list_networks()["networks"] if n["router:external"])
    network = neutron.create_network({"network": {"name": "enos-network"}})["network"]
    subnet = neutron.create_subnet({"subnet": {
        "name": "enos-subnet", "network_id": network["id"], "cidr": "10.87.23.0/24",
        "ip_version": 4, "dns_nameservers": ["8.8.8.8", "8.8.4.4"],
        "allocation_pools": [{"start": "10.87.23.10", "end": "10.87.23.100"}]}})["subnet"]
    router = neutron.create_router({"router": {
        "name": "enos-router", "external_gateway_info": {"network_id": external["id"]}}})
    neutron.add_interface_router(router["router"]["id"], {"subnet_id": subnet["id"]})
    nova.keypairs.create("enos-key", public_key=PUBLIC_KEY)

    # servers: EnOSlib turns the flavour name into its id, then finds by name == id
    assert nova.servers.list(search_opts={"name": "enos-enos"}) == []
    flavor = nova.flavors.find(name=flavors["m1.small"])
    with pytest.raises(nova_exceptions.NotFound):
        nova.flavors.find(name=flavors["m1.xlarge"])  # id "5" differs from the name
    created = [nova.servers.create(
        name=f"enos-enos-{i}", image=images["debian-12"], flavor=flavor.id,
        nics=[{"net-id": network["id"]}], key_name="enos-key", security_groups=["enos-secgroup"],
        scheduler_hints={"group": "enos"}) for i in range(2)]
    emu.advance(10)
    servers = [nova.servers.get(server.id) for server in created]
    assert all(s.status == "ACTIVE" and s.addresses for s in servers)
    assert emu.cloud.servers[servers[0].id].scheduler_hints == {"group": "enos"}
    id_to_flavor = {flavor_id: name for name, flavor_id in flavors.items()}
    assert {id_to_flavor[s.flavor["id"]] for s in servers} == {"m1.small"}
    addresses = [s.addresses["enos-network"][0]["addr"] for s in servers]
    assert addresses == ["10.87.23.10", "10.87.23.11"]

    # the gateway (smallest id) gets a floating IP
    gateway = min(servers, key=lambda s: s.id)
    free = [f for f in neutron.list_floatingips()["floatingips"] if f["fixed_ip_address"] is None]
    fip = free[0] if free else neutron.create_floatingip({"floatingip": {
        "floating_network_id": external["id"]}})["floatingip"]
    port = neutron.list_ports(device_id=gateway.id)["ports"][0]
    neutron.update_floatingip(fip["id"], {"floatingip": {"port_id": port["id"]}})
    floating = [a for a in nova.servers.get(gateway.id).addresses["enos-network"]
                if a["OS-EXT-IPS:type"] == "floating"]
    assert [a["addr"] for a in floating] == [fip["floating_ip_address"]]
    assert neutron.list_ports()["ports"]

    # destroy: every server whose name starts with enos-
    for server in nova.servers.list():
        if server.name.startswith("enos-"):
            server.delete()
    assert nova.servers.list() == []
    assert neutron.list_floatingips()["floatingips"][0]["port_id"] is None
