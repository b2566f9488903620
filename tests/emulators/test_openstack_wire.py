"""The OpenStack emulator on the wire: the shapes, codes and messages clients depend on."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bedform.emulators.openstack import OpenstackEmulator

pytest_plugins = ("bedform.emulators.openstack.testing",)


class Client:
    """A bare HTTP client holding a token, as EnOSlib's per-service clients would."""

    def __init__(self, emu: OpenstackEmulator, user: str = "alice",
                 project: str | None = None) -> None:
        self.emu = emu
        auth = emu.auth(user, project)
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": auth["username"], "password": auth["password"],
                "domain": {"name": "Default"}}}},
            "scope": {"project": {"id": auth["project_id"]}}}}
        answer = requests.post(f"{emu.auth_url}/auth/tokens", json=body, timeout=10)
        assert answer.status_code == 201
        self.token = answer.headers["X-Subject-Token"]
        self.catalog = {s["type"]: s["endpoints"] for s in answer.json()["token"]["catalog"]}

    def url(self, service: str) -> str:
        return next(e["url"] for e in self.catalog[service] if e["interface"] == "public")

    def call(self, method: str, service: str, path: str, version: str | None = None,
             **kwargs: Any) -> requests.Response:
        headers = {"X-Auth-Token": self.token}
        if version:
            headers["OpenStack-API-Version"] = f"compute {version}"
        return requests.request(method, self.url(service) + path, headers=headers, timeout=10,
                                **kwargs)


@pytest.fixture
def client(openstack_emulator: OpenstackEmulator) -> Client:
    return Client(openstack_emulator)


def _network_with_subnet(client: Client, name: str, cidr: str) -> str:
    network = client.call("POST", "network", "/v2.0/networks", json={"network": {"name": name}})
    network_id = network.json()["network"]["id"]
    client.call("POST", "network", "/v2.0/subnets", json={"subnet": {
        "network_id": network_id, "cidr": cidr, "ip_version": 4}})
    return str(network_id)


def _boot(client: Client, name: str, network_id: str, version: str = "2.1",
          **extra: Any) -> requests.Response:
    image = client.call("GET", "image", "/v2/images?name=debian-12").json()["images"][0]
    server = {"name": name, "imageRef": image["id"], "flavorRef": "m1.tiny",
              "networks": [{"uuid": network_id}], **extra}
    return client.call("POST", "compute", "/servers", version, json={"server": server})


def test_keystone_versions_catalog_and_refusals(openstack_emulator: OpenstackEmulator) -> None:
    emu = openstack_emulator
    root = requests.get(emu.base_url + "/", timeout=10)
    assert root.status_code == 300
    assert root.json()["versions"]["values"][0]["links"][0]["href"] == f"{emu.auth_url}/"
    client = Client(emu, project="other")
    assert set(client.catalog) == {"identity", "compute", "network", "image", "reservation"}
    compute = client.catalog["compute"]
    assert {e["interface"] for e in compute} == {"public", "internal"}
    assert {e["region_id"] for e in compute} == {"RegionOne"}
    assert client.url("compute") == f"{emu.base_url}/compute/v2.1"
    by_name = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "bob", "password": "bob-pw", "domain": {"id": "default"}}}},
        "scope": {"project": {"name": "other", "domain": {"name": "Default"}}}}}
    token = requests.post(f"{emu.auth_url}/auth/tokens", json=by_name, timeout=10).json()
    assert token["token"]["project"]["name"] == "other"
    by_name["auth"]["identity"]["password"]["user"]["password"] = "nope"
    refused = requests.post(f"{emu.auth_url}/auth/tokens", json=by_name, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"]["title"] == "Unauthorized"
    assert "Keystone uri=" in refused.headers["WWW-Authenticate"]
    by_name["auth"]["identity"]["password"]["user"]["password"] = "bob-pw"
    by_name["auth"]["scope"]["project"]["name"] = "admin"  # bob is no member of it
    assert requests.post(f"{emu.auth_url}/auth/tokens", json=by_name,
                         timeout=10).status_code == 401
    for service, path in (("compute", "/servers"), ("network", "/v2.0/networks"),
                          ("image", "/v2/images")):
        answer = requests.get(client.url(service) + path, timeout=10,
                              headers={"X-Auth-Token": "forged"})
        assert answer.status_code == 401, service


def test_version_documents_of_nova_neutron_glance(client: Client) -> None:
    nova = requests.get(client.url("compute"), timeout=10).json()["version"]
    assert (nova["id"], nova["min_version"], nova["version"]) == ("v2.1", "2.1", "2.61")
    glance = requests.get(client.url("image") + "/", timeout=10)
    assert glance.status_code == 300
    assert glance.json()["versions"][0]["status"] == "CURRENT"
    neutron = requests.get(client.url("network") + "/", timeout=10).json()
    assert neutron["versions"][0]["id"] == "v2.0"
    too_new = client.call("GET", "compute", "/flavors", "2.62")
    assert too_new.status_code == 406
    assert "maximum is 2.61" in too_new.json()["computeFault"]["message"]


def test_microversions_change_flavor_and_server_shapes(client: Client) -> None:
    old = client.call("GET", "compute", "/flavors/m1.medium", "2.1").json()["flavor"]
    assert "extra_specs" not in old and old["swap"] == ""
    new = client.call("GET", "compute", "/flavors/m1.medium", "2.61")
    assert new.headers["OpenStack-API-Version"] == "compute 2.61"
    assert new.json()["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared"}
    lenient = client.call("GET", "compute", "/flavors/detail?is_public=None", "2.61")
    assert len(lenient.json()["flavors"]) == 6
    network_id = _network_with_subnet(client, "shapes", "10.50.0.0/24")
    created = _boot(client, "shape-vm", network_id)
    assert created.status_code == 202
    body = created.json()["server"]
    assert {"id", "links", "adminPass", "security_groups"} <= set(body)
    server_id = body["id"]
    v21 = client.call("GET", "compute", f"/servers/{server_id}", "2.1").json()["server"]
    assert v21["flavor"]["id"] == "m1.tiny" and v21["status"] == "BUILD"
    assert v21["addresses"] == {} and v21["OS-EXT-STS:vm_state"] == "building"
    client.emu.advance(5)
    v247 = client.call("GET", "compute", f"/servers/{server_id}", "2.47").json()["server"]
    assert v247["flavor"]["original_name"] == "m1.tiny" and v247["status"] == "ACTIVE"
    assert v247["addresses"]["shapes"][0]["OS-EXT-IPS:type"] == "fixed"
    no_networks = _boot(client, "x", network_id, "2.37", networks=None)
    assert no_networks.status_code == 400


def test_server_name_is_a_regex_and_lists_page(client: Client) -> None:
    network_id = _network_with_subnet(client, "pages", "10.60.0.0/24")
    for name in ("enos-a-0", "enos-a-1", "enos-b-0", "other"):
        assert _boot(client, name, network_id).status_code == 202
    names = {s["name"] for s in client.call(
        "GET", "compute", "/servers/detail", params={"name": "^enos-a-"}).json()["servers"]}
    assert names == {"enos-a-0", "enos-a-1"}
    assert len(client.call("GET", "compute", "/servers",
                           params={"name": "enos"}).json()["servers"]) == 3
    first = client.call("GET", "compute", "/servers/detail", params={"limit": 2}).json()
    assert len(first["servers"]) == 2
    following = requests.get(first["servers_links"][0]["href"], timeout=10,
                             headers={"X-Auth-Token": client.token}).json()
    seen = [s["id"] for s in first["servers"] + following["servers"]]
    assert len(seen) == len(set(seen)) == 4


def test_keypairs_generated_and_imported(client: Client) -> None:
    made = client.call("POST", "compute", "/os-keypairs", "2.10",
                       json={"keypair": {"name": "gen"}})
    assert made.status_code == 201
    assert made.json()["keypair"]["private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert client.call("GET", "compute", "/os-keypairs/gen", "2.10").json()[
        "keypair"]["type"] == "ssh"
    again = client.call("POST", "compute", "/os-keypairs", "2.1",
                        json={"keypair": {"name": "gen"}})
    assert again.status_code == 409 and "already exists" in again.json()[
        "conflictingRequest"]["message"]
    missing = client.call("GET", "compute", "/os-keypairs/none")
    assert missing.status_code == 404 and "itemNotFound" in missing.json()
    assert client.call("DELETE", "compute", "/os-keypairs/gen", "2.1").status_code == 202


def test_neutron_errors_filters_and_router_interfaces(client: Client) -> None:
    missing = client.call("GET", "network", "/v2.0/networks/nope")
    assert missing.status_code == 404
    assert missing.json()["NeutronError"]["type"] == "NetworkNotFound"
    external = client.call("GET", "network", "/v2.0/networks",
                           params={"router:external": "True"}).json()["networks"]
    assert [n["name"] for n in external] == ["public"]
    assert client.call("GET", "network", "/v2.0/networks",
                       params={"router:external": "False"}).json()["networks"] == []
    network_id = _network_with_subnet(client, "filters", "10.70.0.0/24")
    subnet_id = client.call("GET", "network", "/v2.0/subnets",
                            params={"network_id": network_id}).json()["subnets"][0]["id"]
    router = client.call("POST", "network", "/v2.0/routers", json={"router": {
        "name": "r", "external_gateway_info": {"network_id": external[0]["id"]}}}).json()["router"]
    added = client.call("PUT", "network", f"/v2.0/routers/{router['id']}/add_router_interface",
                        json={"subnet_id": subnet_id}).json()
    assert added["subnet_id"] == subnet_id and added["port_id"]
    twice = client.call("PUT", "network", f"/v2.0/routers/{router['id']}/add_router_interface",
                        json={"subnet_id": subnet_id})
    assert twice.status_code == 400
    ports = client.call("GET", "network", "/v2.0/ports",
                        params={"fixed_ips": "ip_address=10.70.0.1"}).json()["ports"]
    assert [p["device_owner"] for p in ports] == ["network:router_interface"]
    direct = client.call("DELETE", "network", f"/v2.0/ports/{ports[0]['id']}")
    assert direct.status_code == 409
    removed = client.call("PUT", "network",
                          f"/v2.0/routers/{router['id']}/remove_router_interface",
                          json={"subnet_id": subnet_id})
    assert removed.json()["port_id"] == ports[0]["id"]
    gone = client.call("PUT", "network", f"/v2.0/routers/{router['id']}/remove_router_interface",
                       json={"subnet_id": subnet_id})
    assert gone.json()["NeutronError"]["type"] == "RouterInterfaceNotFoundForSubnet"
    groups = client.call("GET", "network", "/v2.0/security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    assert len(groups[0]["security_group_rules"]) == 4
    refused = client.call("DELETE", "network", f"/v2.0/security-groups/{groups[0]['id']}")
    assert refused.status_code == 409


def test_floating_ip_created_with_port_shows_in_nova(client: Client) -> None:
    emu = client.emu
    network_id = _network_with_subnet(client, "fipnet", "10.80.0.0/24")
    public = client.call("GET", "network", "/v2.0/networks?name=public").json()["networks"][0]
    subnet_id = client.call("GET", "network", "/v2.0/subnets",
                            params={"network_id": network_id}).json()["subnets"][0]["id"]
    router = client.call("POST", "network", "/v2.0/routers", json={"router": {
        "external_gateway_info": {"network_id": public["id"]}}}).json()["router"]
    client.call("PUT", "network", f"/v2.0/routers/{router['id']}/add_router_interface",
                json={"subnet_id": subnet_id})
    server_id = _boot(client, "fip-vm", network_id).json()["server"]["id"]
    emu.advance(5)
    port = client.call("GET", "network", "/v2.0/ports",
                       params={"device_id": server_id}).json()["ports"][0]
    fip = client.call("POST", "network", "/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": public["id"], "port_id": port["id"]}}).json()["floatingip"]
    assert fip["status"] == "ACTIVE" and fip["router_id"] == router["id"]
    addresses = client.call("GET", "compute", f"/servers/{server_id}").json()["server"][
        "addresses"]["fipnet"]
    assert [(a["addr"], a["OS-EXT-IPS:type"]) for a in addresses] == [
        (port["fixed_ips"][0]["ip_address"], "fixed"), (fip["floating_ip_address"], "floating")]
    stop = client.call("POST", "compute", f"/servers/{server_id}/action", json={"os-stop": None})
    assert stop.status_code == 202
    assert client.call("GET", "compute", f"/servers/{server_id}").json()["server"][
        "status"] == "SHUTOFF"
    twice = client.call("POST", "compute", f"/servers/{server_id}/action",
                        json={"os-stop": None})
    assert twice.status_code == 409 and "vm_state stopped" in twice.text
    client.call("POST", "compute", f"/servers/{server_id}/action", json={"os-start": None})
    assert client.call("DELETE", "compute", f"/servers/{server_id}").status_code == 204
    assert client.call("GET", "compute", f"/servers/{server_id}").status_code == 404
    left = client.call("GET", "network", f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]
    assert left["port_id"] is None and left["status"] == "DOWN"


def test_malformed_input_is_a_400_naming_the_field(client: Client) -> None:
    network_id = _network_with_subnet(client, "strict", "10.90.0.0/24")
    bad_cidr = client.call("POST", "network", "/v2.0/subnets", json={"subnet": {
        "network_id": network_id, "cidr": "10.91.0.0/33", "ip_version": 4}})
    assert bad_cidr.status_code == 400 and "cidr" in bad_cidr.json()["NeutronError"]["message"]
    bad_pool = client.call("POST", "network", "/v2.0/subnets", json={"subnet": {
        "network_id": network_id, "cidr": "10.92.0.0/24", "allocation_pools": ["x"]}})
    assert bad_pool.status_code == 400
    no_body = client.call("POST", "network", "/v2.0/networks", json={"net": {}})
    assert "Unable to find 'network' in request body" in no_body.text
    bad_nets = _boot(client, "bad", network_id, networks=["not-an-object"])
    assert bad_nets.status_code == 400 and "networks" in bad_nets.json()["badRequest"]["message"]
    bad_count = _boot(client, "bad", network_id, min_count="two")
    assert bad_count.status_code == 400 and "min_count" in bad_count.text
    no_image = _boot(client, "bad", network_id, imageRef="missing")
    assert no_image.json()["badRequest"]["message"] == "Image missing could not be found."
    assert client.call("GET", "compute", "/servers").json()["servers"] == []
