"""Configurations of the Chameleon providers: EnOSlib's fields and defaults.

`chameleonkvm` is the OpenStack configuration with Chameleon's defaults (image
`CC-Ubuntu18.04`, user `cc`, the TACC DNS servers). `chameleonbaremetal` adds the
lease: `lease_name` (default: the stack name, EnOSlib's `enos-lease`), `walltime`
(`HH:MM:SS`, default 02:00:00), `reservation` (a start `YYYY-MM-DD HH:MM` in UTC; the
slot step fills it for a common start) and `extra_ips` (extra Neutron ports). Machines
ask for `number` hosts of a Blazar `node_type` given as `flavour` (EnOSlib's field):

```yaml
cbm:
  type: chameleonbaremetal
  cloud: chi-uc
  key_name: mykey
  walltime: "02:00:00"
  resources:
    machines:
      - {roles: [server], flavour: compute_skylake, number: 1}
      - {roles: [client], flavour: compute_haswell, number: 2}
    networks: [lan]
```

Bare metal reuses the shared network `sharednet1` and its subnet (`configure_network`
false: read, never created nor deleted) and boots the Nova flavor `baremetal`.
"""

from __future__ import annotations

import copy
import math
import re
from datetime import UTC, datetime
from typing import Any, ClassVar

import attrs

from bedform.errors import ConfigError
from bedform.providers.openstack.config import OpenstackConf
from bedform.providers.openstack.schema import SCHEMA

KVM_IMAGE = "CC-Ubuntu18.04"
KVM_DNS = ("129.114.97.1", "129.114.97.2", "129.116.84.203")
BAREMETAL_DNS = ("130.202.101.6", "130.202.101.37")
BAREMETAL_FLAVOR = "baremetal"
DEFAULT_WALLTIME = "02:00:00"
_BAREMETAL_FIELDS = ("lease_name", "walltime", "reservation", "extra_ips")
WALLTIME_PATTERN = r"^\d{1,4}:[0-5]\d:[0-5]\d$"
RESERVATION_FORMAT = "%Y-%m-%d %H:%M"


def _schema(extra: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(SCHEMA)
    schema["required"] = ["key_name", "resources"]
    schema["properties"].update(extra)
    return schema


KVM_SCHEMA = _schema({})
BAREMETAL_SCHEMA = _schema({
    "lease_name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                   "maxLength": 80, "description": "The Blazar lease (default: the stack "
                                                   "name)."},
    "walltime": {"type": "string", "pattern": WALLTIME_PATTERN,
                 "description": "Lease duration, HH:MM:SS."},
    "reservation": {"type": "string", "minLength": 1,
                    "description": "Lease start, `YYYY-MM-DD HH:MM` in UTC (default: now)."},
    "extra_ips": {"type": "integer", "minimum": 0,
                  "description": "Extra Neutron ports made on the network."},
})


def walltime_seconds(walltime: str) -> int:
    """`HH:MM:SS` in seconds."""
    hours, minutes, seconds = (int(part) for part in walltime.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def format_walltime(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def reservation_epoch(text: str) -> float:
    """A `reservation` (`YYYY-MM-DD HH:MM[:SS]`, UTC) as an epoch."""
    for pattern in (RESERVATION_FORMAT, "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ConfigError(f"reservation {text!r} is not a date", ("reservation",),
                      hint="Write the start as YYYY-MM-DD HH:MM, in UTC.")


def format_reservation(epoch: float) -> str:
    """An epoch as Blazar's date (UTC, rounded up to the whole minute)."""
    whole = math.ceil(epoch / 60) * 60
    return datetime.fromtimestamp(whole, UTC).strftime(RESERVATION_FORMAT)


@attrs.define
class ChameleonKvmConf(OpenstackConf):
    """EnOSlib's ChameleonKVM Configuration (CKVMConf)."""

    schema: ClassVar[dict[str, Any]] = KVM_SCHEMA
    image: str | None = KVM_IMAGE
    user: str | None = "cc"
    gateway_user: str | None = "cc"
    dns_nameservers: list[str] = attrs.field(factory=lambda: list(KVM_DNS))


@attrs.define
class ChameleonBaremetalConf(OpenstackConf):
    """EnOSlib's ChameleonBaremetal Configuration (CBMConf): a lease of hosts by node
    type, servers on them, the shared network."""

    fields: ClassVar[tuple[str, ...]] = (*OpenstackConf.fields, *_BAREMETAL_FIELDS)
    schema: ClassVar[dict[str, Any]] = BAREMETAL_SCHEMA
    image: str | None = KVM_IMAGE
    user: str | None = "cc"
    gateway_user: str | None = "cc"
    configure_network: bool = False
    network: dict[str, str] | None = attrs.field(factory=lambda: {"name": "sharednet1"})
    subnet: dict[str, str] | None = attrs.field(
        factory=lambda: {"name": "sharednet1-subnet"})
    dns_nameservers: list[str] = attrs.field(factory=lambda: list(BAREMETAL_DNS))
    lease_name: str | None = None
    walltime: str = DEFAULT_WALLTIME
    reservation: str | None = None
    extra_ips: int = 0

    def finalize(self) -> ChameleonBaremetalConf:
        super().finalize()
        if walltime_seconds(self.walltime) <= 0:
            raise ConfigError("walltime is zero", ("walltime",),
                              hint="Give the lease a duration, e.g. 02:00:00.")
        if self.reservation is not None:
            reservation_epoch(self.reservation)
        for index, machine in enumerate(self.machines):
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", machine.flavour):
                raise ConfigError(f"node type {machine.flavour!r} is not a Blazar node type",
                                  ("resources", "machines", index, "flavour"),
                                  hint="Use a node type such as compute_haswell.")
        return self

    @property
    def sites(self) -> tuple[str, ...]:
        """One lease: no per-site jobs (the slot step counts one reservation)."""
        return ()

    def node_types(self) -> dict[str, int]:
        """Hosts wanted per node type (one reservation each, whatever the order of the
        machine groups: EnOSlib's groupby split a type in two when groups alternated)."""
        wanted: dict[str, int] = {}
        for machine in self.machines:
            if machine.number:
                wanted[machine.flavour] = wanted.get(machine.flavour, 0) + machine.number
        return dict(sorted(wanted.items()))
