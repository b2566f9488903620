"""`ChameleonKVM` and `ChameleonBaremetal` (EnOSlib's `CKVM` and `CBM`), by plan/apply.

    conf = (CBMConf.from_settings(key_name="mykey", cloud="chi-uc", walltime="02:00:00")
            .add_machine(roles=["server"], flavour="compute_skylake", number=1)
            .add_machine(roles=["client"], flavour="compute_haswell", number=2)
            .finalize())
    provider = ChameleonBaremetal(conf)
    roles, networks = provider.init()     # lease ACTIVE, servers on it, floating IP
    provider.destroy()                    # servers, floating IP, ports and the lease

Unlike EnOSlib, bare metal reserves in advance: `test_slot` answers from Blazar's
host allocations, `set_reservation` and `offset_walltime` move the lease, so
`Providers([G5k(...), ChameleonBaremetal(...)])` finds one common start.
"""

from __future__ import annotations

import time
from typing import ClassVar

from bedform.api.openstack import Openstack
from bedform.api.provider import ReservingProvider
from bedform.errors import NegativeWalltime
from bedform.providers.base import DriverContext
from bedform.providers.chameleon.config import (
    ChameleonBaremetalConf,
    ChameleonKvmConf,
    format_walltime,
    walltime_seconds,
)
from bedform.providers.chameleon.driver import ChameleonBaremetalDriver
from bedform.providers.openstack.config import OpenstackMachineConf

__all__ = [
    "CBM",
    "CKVM",
    "CBMConf",
    "CBMMachineConf",
    "CKVMConf",
    "CKVMMachineConf",
    "ChameleonBaremetal",
    "ChameleonBaremetalConf",
    "ChameleonKVM",
    "ChameleonKvmConf",
]


class ChameleonKVM(Openstack):
    """KVM@TACC: the OpenStack provider with Chameleon's defaults."""

    type_name: ClassVar[str] = "chameleonkvm"
    provider_conf: ChameleonKvmConf


class ChameleonBaremetal(ReservingProvider):
    """A Blazar lease of bare-metal hosts and servers on them, by plan/apply."""

    type_name: ClassVar[str] = "chameleonbaremetal"
    provider_conf: ChameleonBaremetalConf

    @property
    def stack_name(self) -> str:
        """The lease name, else the prefix, else the provider name."""
        return self.provider_conf.lease_name or self.provider_conf.prefix or self.name

    def set_reservation(self, timestamp: int) -> None:
        """Start the lease at `timestamp` (UTC epoch)."""
        self.provider_conf.reservation = time.strftime("%Y-%m-%d %H:%M:%S",
                                                       time.gmtime(timestamp))

    def offset_walltime(self, offset: int) -> None:
        """Add `offset` seconds to the walltime."""
        seconds = walltime_seconds(self.provider_conf.walltime) + offset
        if seconds <= 0:
            raise NegativeWalltime("the walltime would be zero or negative")
        self.provider_conf.walltime = format_walltime(seconds)

    def _new_slot_driver(self) -> ChameleonBaremetalDriver:
        """The driver slots are checked through (Blazar's allocations listed once per
        provider instance), with the configuration's credentials."""
        driver = ChameleonBaremetalDriver(DriverContext(
            stack_name=self.stack_name, stack_id="", state_dir=self.state_dir))
        driver.preflight(self.provider_conf)
        return driver



CKVM = ChameleonKVM
CBM = ChameleonBaremetal
CKVMConf = ChameleonKvmConf
CBMConf = ChameleonBaremetalConf
CKVMMachineConf = OpenstackMachineConf
CBMMachineConf = OpenstackMachineConf
