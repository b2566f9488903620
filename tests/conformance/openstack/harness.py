"""The conformance harness of OpenStack, against the emulator over real HTTP (and the
real fixture, `RealOpenstackHarness`): objects are listed through openstacksdk as the
stack's user, mutating calls counted in the emulator's request log (Keystone's token
requests left out), breakage made by deleting a server through the API."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bedform.conformance import (
    Breakage,
    ConformanceStack,
    EmulatorControl,
    Harness,
    InputChange,
    Size,
)
from bedform.emulators.openstack import OpenstackEmulator
from bedform.emulators.openstack.server import DEFAULT_CLOUD_NAME
from tests.openstack_real.fixture import CLOUD, RealCloud

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFb3dF0kGq4o4m1pV1o8m8wqg3c8mZ0c3y4h7g8lq9tY cf@b"
NEUTRON = {"network": "networks", "subnet": "subnets", "router": "routers",
           "secgroup": "security_groups"}


class OpenstackHarness(Harness):
    """A gateway server and one client on a new network with a router; growing adds a
    client; the change is the clients' image."""

    name = "openstack"

    def __init__(self, emulator: OpenstackEmulator, workdir: Path) -> None:
        import openstack

        self.emulator = emulator
        self.control = EmulatorControl(emulator.base_url)
        self.clouds = emulator.write_clouds_yaml(workdir / "clouds.yaml")
        self.conn = openstack.connect(**emulator.auth(), region_name=emulator.cloud.region)
        self.conn.compute.create_keypair(name="cf", public_key=KEY)
        self._slow = False

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        if slow and not self._slow:
            self.emulator.add_fault(method="POST|PUT|DELETE", path="^/(compute|network)",
                                    latency_ms=80)
            self._slow = True
        clients = 2 if size == "grown" else 1
        section = {"type": "openstack", "cloud": DEFAULT_CLOUD_NAME, "key_name": "cf",
                   "image": "debian-12", "user": "debian", "resources": {"machines": [
                       {"roles": ["server"], "flavour": "m1.tiny", "number": 1},
                       {"roles": ["client"], "flavour": "m1.tiny", "number": clients,
                        "image": "cirros-0.6.2" if changed else "debian-12"}]}}
        return {"name": name, "providers": {"os": section}}

    def environment(self) -> dict[str, str]:
        return {"OS_CLIENT_CONFIG_FILE": str(self.clouds)}

    def input_change(self) -> InputChange:
        return InputChange("the clients' image", frozenset({"os.server[1-0]"}))

    def adoptable(self) -> str:
        return "os.network"

    def owned(self, stack: ConformanceStack) -> dict[str, list[str]]:
        """The stack's servers, network, subnet, router, group (named after its unique
        name) and its gateway's floating IP (by description)."""
        prefix = f"{stack.name}-"
        found: dict[str, list[str]] = {}
        for server in self.conn.compute.servers():
            if server.name.startswith(prefix):
                found.setdefault(server.name, []).append(server.id)
        for kind, collection in NEUTRON.items():
            found[f"{stack.name}-{kind}"] = [
                item.id for item in getattr(self.conn.network, collection)()
                if item.name == f"{stack.name}-{kind}"]
        found["floating_ip"] = [ip.id for ip in self.conn.network.ips()
                                if ip.description == f"bedform stack {stack.name} gateway"]
        return found

    def recorded(self, state: Mapping[str, Any]) -> dict[str, str]:
        keys = {}
        for address, record in state["resources"].items():
            if record["kind"] == "os_floating_ip":
                keys["floating_ip"] = address
            elif record["kind"] != "os_ssh_ready":
                name = (record.get("inputs") or {}).get("name") or \
                    (record.get("identity") or {}).get("name")
                keys[name] = address
        return keys

    def mutations(self) -> int:
        return sum(1 for r in self.control.requests()
                   if r["method"] in ("POST", "PUT", "PATCH", "DELETE")
                   and not r["path"].startswith("/v3/"))

    def break_object(self, stack: ConformanceStack, how: str) -> Breakage:
        server = self.conn.compute.find_server(f"{stack.name}-1-0")
        self.conn.compute.delete_server(server.id)
        return Breakage(frozenset({"os.server[1-0]"}), "deleted outside")

    def cleanup(self, stack: ConformanceStack) -> dict[str, list[str]]:
        left = {key: ids for key, ids in self.owned(stack).items() if ids}
        network = self.conn.network
        for key, ids in left.items():
            for object_id in ids:
                if key == "floating_ip":
                    network.delete_ip(object_id)
                elif key.endswith("-router"):
                    for port in network.ports(device_id=object_id,
                                              device_owner="network:router_interface"):
                        network.remove_interface_from_router(object_id, port_id=port.id)
                    network.delete_router(object_id)
                elif not key.endswith(tuple(f"-{k}" for k in NEUTRON)):
                    self.conn.compute.delete_server(object_id)
        for kind in ("subnet", "network", "secgroup"):
            for object_id in left.get(f"{stack.name}-{kind}", []):
                getattr(network, f"delete_{'security_group' if kind == 'secgroup' else kind}"
                        )(object_id)
        return left


class RealOpenstackHarness(OpenstackHarness):
    """The same stacks on the real fixture (scripts/openstack-real.sh) as its test user:
    mutating calls counted in nova-api's and neutron-server's own request logs (only the
    test user's, not the services' calls to each other). The fake virt driver has no
    dataplane: `wait_ssh` stays off and nothing waits on port status."""

    name = "openstack-real"
    run_timeout = 240.0

    def __init__(self, cloud: RealCloud, workdir: Path) -> None:
        self.cloud = cloud
        self.clouds = cloud.clouds
        self.conn = cloud.connect()
        self.user_id = self.conn.current_user_id
        if self.conn.compute.find_keypair("cf") is None:
            self.conn.compute.create_keypair(name="cf", public_key=KEY)

    def stack_document(self, name: str, size: Size, changed: bool = False,
                       slow: bool = False) -> dict[str, Any]:
        """The emulator's stack on cloud `bedform-real` (a real cloud is slow enough)."""
        document = super().stack_document(name, size, changed)
        document["providers"]["os"]["cloud"] = CLOUD
        return document

    def mutations(self) -> int:
        return sum(1 for r in self.cloud.requests(self.user_id)
                   if r["method"] in ("POST", "PUT", "PATCH", "DELETE"))
