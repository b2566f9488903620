"""The OpenStack driver: credentials, expansion into kinds, batched refresh, inventory.

Resources of a provider instance `os`, one handler per kind (each in its own module,
reused by the Chameleon provider):

- `os.security_group` (`os_security_group`, secgroups.py) with EnOSlib's rules;
- `os.network` (`os_network`) and `os.subnet` (`os_subnet`), networks.py: made, or
  read with `configure_network: false` (`managed: false`, never deleted);
- `os.router` (`os_router`, routers.py): gateway and interface (`configure_network`);
- `os.server[<group>-<n>]` (`os_server`, servers.py): the server `<prefix>-<group>-<n>`;
- `os.floating_ip` (`os_floating_ip`, floating_ips.py) on the gateway server, the
  first server of the first group (`gateway: true`);
- `os.ssh_ready` (`os_ssh_ready`, readiness.py) with `wait_ssh: true`.

Refresh lists each collection its records need once (listing.py), whatever the
number of servers. Destroy deletes in reverse dependency order: the floating IP, the
servers (waiting until they are gone), the router's interface and the router, the
subnet, the network, the security group. Credentials (client.py) come from the
section's `cloud` or `rc_file`, else the environment; the source (never a secret) is
kept in the driver's directory so that `destroy` works after the section is removed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from bedform.errors import ProviderError
from bedform.objects import Networks, Roles
from bedform.providers.base import Capabilities, Ref, Resource
from bedform.providers.kinds import KindDriver, KindHandler
from bedform.providers.openstack import config as osconf
from bedform.providers.openstack import inventory
from bedform.providers.openstack.client import cloud_region, connect
from bedform.providers.openstack.config import OpenstackConf
from bedform.providers.openstack.floating_ips import FloatingIpKind
from bedform.providers.openstack.listing import Listing
from bedform.providers.openstack.networks import NetworkKind, SubnetKind
from bedform.providers.openstack.owned import marker
from bedform.providers.openstack.readiness import SshReadyKind
from bedform.providers.openstack.routers import RouterKind
from bedform.providers.openstack.schema import SCHEMA
from bedform.providers.openstack.secgroups import DEFAULT_RULES, SecurityGroupKind
from bedform.providers.openstack.servers import ServerKind, server_name
from bedform.state.model import Record

SOURCE_FILE = "credentials-source.json"


class OpenstackDriver(KindDriver):
    """Driver of `type: openstack` sections."""

    type_name = "openstack"
    handlers: ClassVar[tuple[type[KindHandler[Any]], ...]] = (
        SecurityGroupKind, NetworkKind, SubnetKind, RouterKind, ServerKind, FloatingIpKind,
        SshReadyKind)
    capabilities = Capabilities(max_concurrent_calls=10)

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._conn: Any = None
        self._source: dict[str, str | None] | None = None
        self._lookups: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    # -- configuration and credentials ---------------------------------------------------
    @classmethod
    def schema(cls) -> dict[str, Any]:
        return SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> OpenstackConf:
        return osconf.load(section)

    def preflight(self, conf: Any = None) -> None:
        """Read the credentials (no request); remember their source for later runs."""
        if conf is not None:
            self._source = {"cloud": conf.cloud, "rc_file": conf.rc_file}
            self.context.state_dir.mkdir(parents=True, exist_ok=True)
            (self.context.state_dir / SOURCE_FILE).write_text(json.dumps(self._source))
        cloud_region(**self.source)

    @property
    def source(self) -> dict[str, str | None]:
        """Where the credentials come from: `cloud` / `rc_file` (None: the environment)."""
        if self._source is None:
            path = self.context.state_dir / SOURCE_FILE
            self._source = json.loads(path.read_text()) if path.is_file() else \
                {"cloud": None, "rc_file": None}
        return self._source

    @property
    def conn(self) -> Any:
        """The openstacksdk Connection, made on first use."""
        with self._lock:
            if self._conn is None:
                self._conn = connect(**self.source)
            return self._conn

    def snapshot(self, records: Sequence[Record]) -> Listing:
        prefixes = {r.identity["name"].rsplit("-", 2)[0] for r in records
                    if r.kind == "os_server" and r.identity.get("name")}
        return Listing(self.conn, prefixes)

    def image_id(self, name: str) -> str:
        """The id of the image named (or with id) `name`, looked up once per run."""
        return self._lookup("image", name)

    def flavor_id(self, name: str) -> str:
        """The id of the flavour named (or with id) `name`, looked up once per run."""
        return self._lookup("flavour", name)

    def _lookup(self, what: str, name: str) -> str:
        with self._lock:
            if (what, name) in self._lookups:
                return self._lookups[(what, name)]
        if what == "image":
            found = self.conn.image.find_image(name, ignore_missing=True)
            known = sorted(i.name for i in self.conn.image.images())
        else:
            found = self.conn.compute.find_flavor(name, ignore_missing=True)
            known = sorted(f.name for f in self.conn.compute.flavors())
        if found is None:
            raise ProviderError(f"no {what} named {name!r} in the cloud",
                                hint=f"Set `{what}:` to one of: {', '.join(known)}.")
        with self._lock:
            self._lookups[(what, name)] = found.id
        return found.id

    # -- desired resources ---------------------------------------------------------------
    def expand(self, name: str, conf: OpenstackConf,
               records: Mapping[str, Record] | None = None) -> list[Resource]:
        names = conf.names(self.context.stack_name)
        mark = marker(self.context.stack_name)
        managed = conf.configure_network
        resources: list[Resource] = []

        def owned(address: str, kind: str, inputs: dict[str, Any],
                  **extra: Any) -> Resource:
            inputs = {"name": names[kind], "mark": mark, **inputs}
            resource = Resource(f"{name}.{address}", f"os_{address}", inputs,
                                identity={"name": names[kind], "mark": mark}, **extra)
            resources.append(resource)
            return resource

        secgroup = owned("security_group", "secgroup", {"rules": list(DEFAULT_RULES)})
        network = owned("network", "network", {"managed": managed})
        subnet_inputs: dict[str, Any] = {"managed": managed,
                                         "network_id": Ref(network.address, "id")}
        if managed:
            subnet_inputs.update(cidr=conf.cidr, dns_nameservers=list(conf.dns_nameservers),
                                 allocation_pool=conf.pool())
        subnet = owned("subnet", "subnet", subnet_inputs)
        router = owned("router", "router", {"subnet_id": Ref(subnet.address, "id"),
                                            "external_network": conf.external_network}) \
            if managed else None
        servers: list[Resource] = []
        for group, machine in enumerate(conf.machines):
            for number in range(machine.number):
                server = server_name(names["prefix"], group, number)
                servers.append(Resource(
                    f"{name}.server[{group}-{number}]", "os_server",
                    {"name": server, "image": machine.image, "flavour": machine.flavour,
                     "key_name": conf.key_name, "network_id": Ref(network.address, "id"),
                     "network": Ref(network.address, "name"),
                     "security_group": Ref(secgroup.address, "name"),
                     "stack": self.context.stack_name, "group": group, "number": number},
                    depends_on=[subnet.address],
                    identity={"name": server, "stack": self.context.stack_name}))
        resources += servers
        fip = None
        if conf.gateway and servers:
            gateway = servers[0]
            fip = Resource(f"{name}.floating_ip", "os_floating_ip",
                           {"server_id": Ref(gateway.address, "id"),
                            "server": gateway.inputs["name"],
                            "external_network": conf.external_network,
                            "mark": f"{mark} gateway"},
                           depends_on=[router.address] if router else [],
                           identity={"mark": f"{mark} gateway"})
            resources.append(fip)
        if conf.wait_ssh and servers:
            resources.append(self._ssh_ready(name, conf, servers, fip))
        return resources

    @staticmethod
    def _ssh_ready(name: str, conf: OpenstackConf, servers: list[Resource],
                   fip: Resource | None) -> Resource:
        listed = [{"name": s.inputs["name"], "address": Ref(s.address, "fixed_ip"),
                   "user": conf.machines[s.inputs["group"]].user or conf.user}
                  for s in servers]
        inputs: dict[str, Any] = {"servers": listed}
        if fip is not None:
            inputs.update(gateway=Ref(fip.address, "floating_ip_address"),
                          gateway_user=conf.gateway_user or conf.user)
        return Resource(f"{name}.ssh_ready", "os_ssh_ready", inputs)

    # -- inventory -----------------------------------------------------------------------
    def inventory(self, name: str, conf: OpenstackConf, records: Mapping[str, Record]
                  ) -> tuple[Roles, Networks]:
        return inventory.inventory(conf, records)
