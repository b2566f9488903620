"""The `chameleonbaremetal` driver: a Blazar lease, bare-metal servers on it, the shared
network, the gateway's floating IP and extra ports.

Resources of a provider instance `cbm`:

- `cbm.security_group`, `cbm.network` / `cbm.subnet` (read: `sharednet1`), as OpenStack;
- `cbm.lease` (`blazar_lease`, leases.py): one `physical:host` reservation per node type;
- `cbm.server[<group>-<n>]` (`os_server`): flavor `baremetal`, scheduler hint
  `reservation` = the lease's reservation of the group's node type (so a re-created
  lease re-creates its servers);
- `cbm.floating_ip` on the first server (`gateway: true`), `cbm.port[<n>]` (`os_port`,
  `extra_ips`: their addresses are the networks' `extra_ips` in the inventory),
  `cbm.ssh_ready` with `wait_ssh: true`.

It reserves in advance: `test_slot` reads Blazar's hosts and allocations (one listing
each per run), `with_reservation` sets the lease start and walltime of a common start,
so a stack with Grid'5000 and Chameleon gets one start in `plan` and `bedform slots`.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from bedform.errors import NegativeWalltime
from bedform.objects import Networks, Roles
from bedform.providers.base import Capabilities, Ref, Resource, SlotCheck
from bedform.providers.chameleon import blazar as blazar_api
from bedform.providers.chameleon import inventory
from bedform.providers.chameleon.availability import Availability
from bedform.providers.chameleon.config import (
    BAREMETAL_FLAVOR,
    BAREMETAL_SCHEMA,
    ChameleonBaremetalConf,
    format_walltime,
    reservation_epoch,
    walltime_seconds,
)
from bedform.providers.chameleon.leases import LeaseKind, reservation_key
from bedform.providers.chameleon.listing import ChameleonListing
from bedform.providers.chameleon.ports import PortKind
from bedform.providers.kinds import KindHandler
from bedform.providers.openstack.config import OpenstackConf
from bedform.providers.openstack.driver import OpenstackDriver
from bedform.providers.openstack.floating_ips import FloatingIpKind
from bedform.providers.openstack.networks import NetworkKind, SubnetKind
from bedform.providers.openstack.owned import marker
from bedform.providers.openstack.readiness import SshReadyKind
from bedform.providers.openstack.secgroups import SecurityGroupKind
from bedform.providers.openstack.servers import ServerKind
from bedform.state.model import Record, Status

SHORTEN_MARGIN = 120
"""A walltime change is made in place only if the new end is this far ahead (s)."""


class ChameleonBaremetalDriver(OpenstackDriver):
    """Driver of `type: chameleonbaremetal` sections."""

    type_name = "chameleonbaremetal"
    handlers: ClassVar[tuple[type[KindHandler[Any]], ...]] = (
        SecurityGroupKind, NetworkKind, SubnetKind, LeaseKind, ServerKind, FloatingIpKind,
        PortKind, SshReadyKind)
    capabilities = Capabilities(advance_reservation=True, test_slot=True,
                                walltime_update=True, max_concurrent_calls=10)

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._blazar: Any = None
        self._availability: Availability | None = None
        self._blazar_lock = threading.Lock()

    @classmethod
    def schema(cls) -> dict[str, Any]:
        return BAREMETAL_SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> ChameleonBaremetalConf:
        return ChameleonBaremetalConf.from_dictionary(section)

    @property
    def blazar(self) -> Any:
        """The Blazar client, on the Connection's session."""
        with self._blazar_lock:
            if self._blazar is None:
                self._blazar = blazar_api.client(self.conn)
            return self._blazar

    def snapshot(self, records: Sequence[Record]) -> ChameleonListing:
        prefixes = {r.identity["name"].rsplit("-", 2)[0] for r in records
                    if r.kind == "os_server" and r.identity.get("name")}
        return ChameleonListing(self.conn, self.blazar, prefixes)

    def availability(self, fresh: bool = False) -> Availability:
        """Blazar's hosts and allocations, listed once per run (or again if `fresh`)."""
        if self._availability is None or fresh:
            self._availability = Availability(self.blazar.host.list(),
                                              self.blazar.allocation.list("os-hosts"))
        return self._availability

    # -- desired resources ---------------------------------------------------------------
    def expand(self, name: str, conf: OpenstackConf,
               records: Mapping[str, Record] | None = None) -> list[Resource]:
        assert isinstance(conf, ChameleonBaremetalConf)
        base = super().expand(name, conf, records)
        lease = self._lease(name, conf, (records or {}).get(f"{name}.lease"))
        resources: list[Resource] = []
        for resource in base:
            if resource.kind == "os_server":
                group = conf.machines[resource.inputs["group"]]
                resource = attrs.evolve(resource, inputs={
                    **resource.inputs, "flavour": BAREMETAL_FLAVOR, "node_type": group.flavour,
                    "scheduler_hints": {"reservation": Ref(lease.address,
                                                           reservation_key(group.flavour))}})
            resources.append(resource)
            if resource.kind == "os_subnet":
                resources.append(lease)
        names = conf.names(self.context.stack_name)
        network = f"{name}.network"
        for number in range(conf.extra_ips):
            port = f"{names['prefix']}-port-{number}"
            resources.append(Resource(
                f"{name}.port[{number}]", "os_port",
                {"name": port, "mark": marker(self.context.stack_name),
                 "network_id": Ref(network, "id")},
                identity={"name": port, "mark": marker(self.context.stack_name)}))
        return resources

    def _lease(self, name: str, conf: ChameleonBaremetalConf, record: Record | None
               ) -> Resource:
        walltime = walltime_seconds(conf.walltime)
        lease_name = conf.lease_name or self.context.stack_name
        inputs: dict[str, Any] = {
            "name": lease_name, "hosts": conf.node_types(), "walltime": walltime,
            "start": reservation_epoch(conf.reservation) if conf.reservation else None}
        if record is not None and record.status == Status.READY:
            because = record.inputs.get("replaced_because")
            began = record.attributes.get("start_date")
            # Blazar's clock decides (asked only when the walltime changes)
            if record.inputs.get("walltime") != walltime and began is not None \
                    and began + walltime <= blazar_api.server_now(self.blazar) \
                    + SHORTEN_MARGIN:
                because = (f"walltime {format_walltime(walltime)} would end the lease "
                           f"{blazar_api.utc(began + walltime)}, already past: Blazar "
                           "cannot shorten it in place")
            other = sorted(set(inputs["hosts"]) ^ set(record.inputs.get("hosts") or {}))
            if other:
                because = (f"node types {', '.join(other)} added or removed: Blazar cannot "
                           "add or remove a lease's reservations")
            if because:
                inputs["replaced_because"] = because
        return Resource(f"{name}.lease", "blazar_lease", inputs,
                        depends_on=[f"{name}.subnet"], identity={"name": lease_name})

    # -- reservations --------------------------------------------------------------------
    def walltime(self, conf: ChameleonBaremetalConf) -> int:
        return walltime_seconds(conf.walltime)

    def with_reservation(self, conf: ChameleonBaremetalConf, start: float, offset: int = 0
                         ) -> ChameleonBaremetalConf:
        """A copy of `conf` whose lease starts at `start` (UTC epoch) with the walltime
        changed by `offset` seconds."""
        seconds = walltime_seconds(conf.walltime) + int(offset)
        if seconds <= 0:
            raise NegativeWalltime(f"walltime {conf.walltime} {offset:+d} s would be zero "
                                   "or negative")
        new = copy.deepcopy(conf)
        new.reservation = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))
        new.walltime = format_walltime(seconds)
        return new

    def recorded_reservation(self, conf: ChameleonBaremetalConf,
                             records: Mapping[str, Record]) -> tuple[float, int] | None:
        if conf.reservation:
            return None
        for record in records.values():
            if record.kind == "blazar_lease" and record.inputs.get("start") is not None:
                return float(record.inputs["start"]), int(record.inputs["walltime"])
        return None

    def test_slot(self, conf: ChameleonBaremetalConf, start: float, end: float) -> SlotCheck:
        """Enough hosts of every node type free for the walltime from `start`, from
        Blazar's allocations (listed once per run)."""
        return self.availability().check(conf.node_types(), start,
                                         walltime_seconds(conf.walltime))

    # -- inventory -----------------------------------------------------------------------
    def inventory(self, name: str, conf: OpenstackConf,
                  records: Mapping[str, Record]) -> tuple[Roles, Networks]:
        return inventory.inventory(conf, records)
