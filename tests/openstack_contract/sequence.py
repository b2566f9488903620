"""The client-level call sequence both clouds answer: what openstacksdk does for the
openstack provider (other-apis.md §2.3: keypair, image, flavors, external network,
network, subnet, router with gateway and interface, security group and rules, servers
to ACTIVE, the gateway's port and floating IP, the prefix listing, then destroy), the
errors clients branch on (404 by id, 400 of a too small flavor, 401), and EnOSlib's
sequence with its own clients (§2.4: glance list and schema, flavors by name == id,
novaclient 2.1 server views)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

from tests.openstack_contract.transcript import Recorder

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFb3dF0kGq4o4m1pV1o8m8wqg3c8mZ0c3y4h7g8lq9tY ct@b"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@attrs.frozen
class Target:
    """A cloud to run the sequence on: keystoneauth password arguments and a region."""

    auth: dict[str, str]
    region: str = "RegionOne"


def _wait(read: Callable[[], Any], done: Callable[[Any], bool], what: str,
          timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def sdk_sequence(target: Target, prefix: str) -> list[dict[str, Any]]:
    """The openstack provider's calls through openstacksdk; returns the transcript."""
    import openstack
    from openstack import exceptions

    conn = openstack.connect(**target.auth, region_name=target.region)
    recorder = Recorder({}, prefix)
    recorder.attach(conn.session.session)
    step = recorder.step
    with step("authenticate"):
        conn.authorize()
    recorder.endpoints = {service: conn.endpoint_for(service) for service in
                          ("compute", "network", "image", "identity")}
    compute, network, image = conn.compute, conn.network, conn.image
    with step("keypair"):
        assert compute.find_keypair(f"{prefix}-key") is None
        compute.create_keypair(name=f"{prefix}-key", public_key=KEY)
    with step("image and flavors"):
        debian = image.find_image("debian-12")
        tiny = compute.find_flavor("m1.tiny")
        assert compute.find_flavor("m1.xlarge").id == "5"
    with step("external network"):
        external = next(network.networks(is_router_external=True))
    with step("network and subnet"):
        assert network.find_network(f"{prefix}-network") is None
        net = network.create_network(name=f"{prefix}-network", description="contract")
        subnet = network.create_subnet(
            network_id=net.id, name=f"{prefix}-subnet", ip_version=4, cidr="10.87.23.0/24",
            dns_nameservers=["8.8.8.8"], description="contract",
            allocation_pools=[{"start": "10.87.23.10", "end": "10.87.23.100"}])
    with step("router"):
        router = network.create_router(name=f"{prefix}-router",
                                        external_gateway_info={"network_id": external.id})
        network.add_interface_to_router(router, subnet_id=subnet.id)
        network.get_router(router.id)
    with step("security group"):
        group = network.create_security_group(name=f"{prefix}-secgroup",
                                              description="contract")
        network.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                           protocol="tcp", port_range_min=1,
                                           port_range_max=65535)
        network.create_security_group_rule(security_group_id=group.id, direction="ingress",
                                           protocol="icmp")
    with step("servers"):
        servers = [compute.create_server(
            name=f"{prefix}-1-{i}", image_id=debian.id, flavor_id=tiny.id,
            networks=[{"uuid": net.id}], key_name=f"{prefix}-key",
            security_groups=[{"name": group.name}], metadata={"bedform_stack": prefix})
            for i in range(2)]
        servers = [_wait(lambda s=s: compute.get_server(s.id),
                         lambda s: s.status in ("ACTIVE", "ERROR"), f"server {s.name}")
                   for s in servers]
        assert [s.status for s in servers] == ["ACTIVE", "ACTIVE"]
    with step("too small a flavor"):
        try:
            compute.create_server(name=f"{prefix}-small", flavor_id=tiny.id,
                                  image_id=image.find_image("ubuntu-24.04").id,
                                  networks=[{"uuid": net.id}])
            raise AssertionError("a flavor smaller than the image's min_disk was accepted")
        except exceptions.BadRequestException:
            pass
    with step("floating ip"):
        port = next(network.ports(device_id=servers[0].id))
        ip = network.create_ip(floating_network_id=external.id, description="contract")
        network.update_ip(ip, port_id=port.id)
        _wait(lambda: compute.get_server(servers[0].id),
              lambda s: any(a.get("OS-EXT-IPS:type") == "floating"
                            for a in s.addresses.get(net.name, [])),
              "the floating address in the server's addresses")
    with step("floating ip without a router"):
        lone = network.create_network(name=f"{prefix}-lone")
        network.create_subnet(network_id=lone.id, ip_version=4, cidr="10.87.25.0/24")
        lone_port = network.create_port(network_id=lone.id)
        try:
            network.create_ip(floating_network_id=external.id, port_id=lone_port.id)
            raise AssertionError("a floating IP on a subnet with no router was accepted")
        except exceptions.NotFoundException:
            pass
        network.delete_port(lone_port)
        network.delete_network(lone)
    with step("refresh listings"):
        list(compute.servers(name=f"^({prefix})-"))
        list(network.networks())
        list(network.routers())
        list(network.ports(device_owner="network:router_interface"))
        list(network.ips())
        list(network.security_groups())
    with step("not found"):
        for read in (compute.get_server, network.get_network, compute.get_keypair):
            try:
                read(UNKNOWN)
                raise AssertionError(f"{read.__name__}({UNKNOWN}) answered")
            except exceptions.NotFoundException:
                pass
    with step("destroy"):
        network.delete_ip(ip)
        for server in servers:
            compute.delete_server(server)
        for server in servers:
            _wait(lambda s=server: compute.find_server(s.id), lambda s: s is None,
                  f"server {server.name} to go")
        network.remove_interface_from_router(router, subnet_id=subnet.id)
        network.delete_router(router)
        network.delete_subnet(subnet)
        network.delete_network(net)
        network.delete_security_group(group)
        compute.delete_keypair(f"{prefix}-key")
    with step("bad password"):
        bad = openstack.connect(**{**target.auth, "password": "wrong"},
                                region_name=target.region)
        recorder.attach(bad.session.session)
        try:
            bad.authorize()
            raise AssertionError("a wrong password was accepted")
        except exceptions.SDKException:
            pass
    conn.close()
    return recorder.transcript()


def enoslib_sequence(target: Target, prefix: str) -> list[dict[str, Any]]:
    """EnOSlib's checks and server views with its clients (keystoneauth v3.Password,
    glanceclient 2, novaclient 2.1, neutronclient); returns the transcript."""
    from glanceclient import client as glance_client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3
    from neutronclient.v2_0 import client as neutron_client
    from novaclient import client as nova_client
    from novaclient import exceptions as nova_exceptions

    auth = v3.Password(auth_url=target.auth["auth_url"], username=target.auth["username"],
                       password=target.auth["password"],
                       project_name=target.auth["project_name"],
                       user_domain_name="Default", project_domain_name="Default")
    sess = session.Session(auth=auth)
    recorder = Recorder({service: sess.get_endpoint(service_type=service,
                                                    region_name=target.region,
                                                    interface="public")
                         for service in ("compute", "network", "image")}, prefix)
    recorder.attach(sess.session)
    nova = nova_client.Client("2.1", session=sess, region_name=target.region)
    neutron = neutron_client.Client(session=sess, region_name=target.region)
    glance = glance_client.Client("2", session=sess, region_name=target.region)
    step = recorder.step
    with step("enoslib checks"):
        images = {i["name"]: i["id"] for i in glance.images.list(limit=200)}
        assert glance.schemas.get("image").name == "image"
        flavors = {f.name: f.id for f in nova.flavors.list()}
        nova.flavors.find(name=flavors["m1.tiny"])
        try:
            nova.flavors.find(name=flavors["m1.xlarge"])
            raise AssertionError("flavors.find(name=<id 5>) found m1.xlarge")
        except nova_exceptions.NotFound:
            pass
        external = next(n for n in neutron.list_networks()["networks"]
                        if n["router:external"])
        neutron.list_security_groups()
        neutron.list_subnets()
        neutron.list_routers()
    with step("enoslib servers"):
        net = neutron.create_network({"network": {"name": f"{prefix}-network"}})["network"]
        neutron.create_subnet({"subnet": {
            "name": f"{prefix}-subnet", "network_id": net["id"], "cidr": "10.87.24.0/24",
            "ip_version": 4, "dns_nameservers": ["8.8.8.8"],
            "allocation_pools": [{"start": "10.87.24.10", "end": "10.87.24.100"}]}})
        subnet = neutron.list_subnets(name=f"{prefix}-subnet")["subnets"][0]
        router = neutron.create_router({"router": {
            "name": f"{prefix}-router",
            "external_gateway_info": {"network_id": external["id"]}}})["router"]
        neutron.add_interface_router(router["id"], {"subnet_id": subnet["id"]})
        assert nova.servers.list(search_opts={"name": f"{prefix}-enos"}) == []
        server = nova.servers.create(name=f"{prefix}-enos-0", image=images["debian-12"],
                                     flavor=flavors["m1.tiny"],
                                     nics=[{"net-id": net["id"]}])
        server = _wait(lambda: nova.servers.get(server.id),
                       lambda s: s.status in ("ACTIVE", "ERROR") and s.addresses,
                       "the server ACTIVE with addresses (EnOSlib's poll)")
        assert server.flavor["id"] == flavors["m1.tiny"]
        neutron.list_floatingips()  # EnOSlib reuses one without a fixed address
        fip = neutron.create_floatingip({"floatingip": {
            "floating_network_id": external["id"]}})["floatingip"]
        port = neutron.list_ports(device_id=server.id)["ports"][0]
        neutron.update_floatingip(fip["id"], {"floatingip": {"port_id": port["id"]}})
    with step("enoslib destroy"):
        neutron.delete_floatingip(fip["id"])
        server.delete()
        _wait(lambda: nova.servers.list(search_opts={"name": f"{prefix}-enos"}),
              lambda left: not left, "the server to go")
        neutron.remove_interface_router(router["id"], {"subnet_id": subnet["id"]})
        neutron.delete_router(router["id"])
        neutron.delete_network(net["id"])
    return recorder.transcript()
