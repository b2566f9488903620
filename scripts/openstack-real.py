#!/usr/bin/python3
"""Steps of scripts/openstack-real.sh that talk to the APIs (Debian's python3 clients).

    openstack-real.py --state DIR register      service users, endpoints, the test user
    openstack-real.py --state DIR seed         images, flavors, the external network
    openstack-real.py --state DIR freepool     Nova's aggregate that Blazar's host plugin needs
    openstack-real.py --state DIR blazar-host  the compute host, in Blazar's free pool
    openstack-real.py --state DIR clouds       clouds.yaml and openrc files for the tests

Idempotent: what exists is kept. The password comes from OS_PASSWORD (the fixture's one).
The seeds are the emulator's (bedform/emulators/openstack/seed.py) so that the same stacks
and contract sequences run on both: images debian-12, ubuntu-24.04 and cirros-0.6.2,
flavors m1.tiny, m1.small (id = name) and m1.xlarge (id 5), the external network `public`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HOST = "127.0.0.1"
AUTH_URL = f"http://{HOST}:5000/v3"
REGION = "RegionOne"
ENDPOINTS = {  # service name: (type, public URL)
    "glance": ("image", f"http://{HOST}:9292"),
    "placement": ("placement", f"http://{HOST}:8778"),
    "nova": ("compute", f"http://{HOST}:8774/v2.1"),
    "neutron": ("network", f"http://{HOST}:9696"),
    "blazar": ("reservation", f"http://{HOST}:1234/v1"),
}
#: The unprivileged user the tests act as (the emulator's alice in project demo).
TEST_USER, TEST_PROJECT = "alice", "demo"
FLAVORS = (("m1.tiny", "m1.tiny", 1, 512, 1), ("m1.small", "m1.small", 1, 2048, 20),
           ("5", "m1.xlarge", 8, 16384, 160))
IMAGES = (("debian-12", "debian", "12", "debian", 1),
          ("ubuntu-24.04", "ubuntu", "24.04", "ubuntu", 3),   # too big for m1.tiny
          ("cirros-0.6.2", "cirros", "0.6.2", "cirros", 1))
#: Blazar's host: the fake compute node, with a Chameleon-like node type.
BLAZAR_HOST, NODE_TYPE = "bedform-host", "compute_haswell"


def admin(password: str):
    import openstack

    return openstack.connect(auth_url=AUTH_URL, username="admin", password=password,
                             project_name="admin", user_domain_name="Default",
                             project_domain_name="Default", region_name=REGION)


def register(password: str) -> None:
    """Service users (admin in project service), services with three endpoints each, and
    the test user with the member role in its own project."""
    conn = admin(password)
    identity = conn.identity
    service_project = identity.find_project("service") or identity.create_project(
        name="service", domain_id="default")
    roles = {name: identity.find_role(name) or identity.create_role(name=name)
             for name in ("admin", "member", "reader")}
    for name, (service_type, url) in ENDPOINTS.items():
        user = identity.find_user(name, domain_id="default") or identity.create_user(
            name=name, password=password, domain_id="default")
        identity.assign_project_role_to_user(service_project, user, roles["admin"])
        service = identity.find_service(name) or identity.create_service(
            name=name, type=service_type)
        have = {e.interface for e in identity.endpoints(service_id=service.id)}
        for interface in ("public", "internal", "admin"):
            if interface not in have:
                identity.create_endpoint(service_id=service.id, interface=interface,
                                         url=url, region_id=REGION)
    project = identity.find_project(TEST_PROJECT) or identity.create_project(
        name=TEST_PROJECT, domain_id="default")
    user = identity.find_user(TEST_USER, domain_id="default") or identity.create_user(
        name=TEST_USER, password=password, domain_id="default",
        default_project_id=project.id)
    identity.assign_project_role_to_user(project, user, roles["member"])
    print("registered:", ", ".join(ENDPOINTS), f"and {TEST_USER}@{TEST_PROJECT}")


def seed(password: str) -> None:
    """The emulator's images, flavors and external network (public, 172.24.4.0/24)."""
    conn = admin(password)
    for name, distro, version, user, min_disk in IMAGES:
        if conn.image.find_image(name) is None:
            conn.create_image(name, data=b"bedform fixture image\n", disk_format="raw",
                              container_format="bare", visibility="public", wait=True,
                              min_disk=min_disk, os_distro=distro, os_version=version,
                              os_admin_user=user)
    for flavor_id, name, vcpus, ram, disk in FLAVORS:
        if conn.compute.find_flavor(name) is None:
            conn.compute.create_flavor(id=flavor_id, name=name, vcpus=vcpus, ram=ram,
                                       disk=disk)
    if conn.network.find_network("public") is None:
        network = conn.network.create_network(
            name="public", is_router_external=True, provider_network_type="flat",
            provider_physical_network="extnet")
        # only database records: the fixture has no dataplane
        conn.network.create_subnet(network_id=network.id, name="public-subnet",
                                   ip_version=4, cidr="172.24.4.0/24",
                                   gateway_ip="172.24.4.1", is_dhcp_enabled=False)
    print("seeded: images, flavors, network public")


def freepool(password: str) -> None:
    """Nova's aggregate `freepool`, which Blazar's physical host plugin moves hosts from."""
    conn = admin(password)
    if not any(a.name == "freepool" for a in conn.compute.aggregates()):
        conn.compute.create_aggregate(name="freepool")


def blazar_host(password: str) -> None:
    """The fake compute host in Blazar, with the extra capability node_type."""
    from blazarclient import client as blazar_client
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=AUTH_URL, username="admin", password=password,
                       project_name="admin", user_domain_name="Default",
                       project_domain_name="Default")
    blazar = blazar_client.Client(session=session.Session(auth=auth),
                                  service_type="reservation", region_name=REGION)
    if not any(h["hypervisor_hostname"] == BLAZAR_HOST for h in blazar.host.list()):
        blazar.host.create(name=BLAZAR_HOST, node_type=NODE_TYPE)
    print(f"blazar host: {BLAZAR_HOST} (node_type {NODE_TYPE})")


def clouds(state: Path, password: str) -> None:
    """clouds.yaml (clouds bedform-real as the test user, bedform-real-admin) and openrc
    files in EnOSlib's format, mode 0600."""
    entries = {"bedform-real": (TEST_USER, TEST_PROJECT),
               "bedform-real-admin": ("admin", "admin")}
    lines = ["clouds:"]
    for cloud, (user, project) in entries.items():
        lines += [f"  {cloud}:", "    auth:", f"      auth_url: {AUTH_URL}",
                  f"      username: {user}", f"      password: {password}",
                  f"      project_name: {project}", "      user_domain_name: Default",
                  "      project_domain_name: Default", f"    region_name: {REGION}",
                  "    interface: public", "    identity_api_version: 3"]
    write_private(state / "clouds.yaml", "\n".join(lines) + "\n")
    for cloud, (user, project) in entries.items():
        write_private(state / f"{cloud}.openrc", "".join(
            f"export {key}={value}\n" for key, value in (
                ("OS_AUTH_TYPE", "password"), ("OS_AUTH_URL", AUTH_URL),
                ("OS_IDENTITY_API_VERSION", "3"), ("OS_USERNAME", user),
                ("OS_PASSWORD", password), ("OS_PROJECT_NAME", project),
                ("OS_USER_DOMAIN_NAME", "Default"), ("OS_PROJECT_DOMAIN_NAME", "Default"),
                ("OS_REGION_NAME", REGION), ("OS_INTERFACE", "public"))))
    blazar = "yes" if (state / "run" / "blazar").exists() else "no"
    write_private(state / "fixture.env", f"BEDFORM_OS_REAL_STATE={state}\n"
                  f"BEDFORM_OS_REAL_BLAZAR={blazar}\n")


def write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("step", choices=("register", "seed", "freepool", "blazar-host",
                                         "clouds"))
    args = parser.parse_args()
    password = os.environ["OS_PASSWORD"]
    if args.step == "clouds":
        clouds(args.state, password)
    else:
        {"register": register, "seed": seed, "freepool": freepool,
         "blazar-host": blazar_host}[args.step](password)


if __name__ == "__main__":
    main()
