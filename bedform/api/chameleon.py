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

import copy
import time
from typing import Any, ClassVar

from bedform.api.openstack import Openstack
from bedform.api.provider import Provider
from bedform.errors import NegativeWalltime
from bedform.providers.base import DriverContext, SlotCheck
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


class ChameleonBaremetal(Provider):
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

    def _driver(self) -> ChameleonBaremetalDriver:
        """The driver slots are checked through (Blazar's allocations listed once per
        provider instance)."""
        driver = self.__dict__.get("_slot_driver")
        if driver is None:
            driver = ChameleonBaremetalDriver(DriverContext(
                stack_name=self.stack_name, stack_id="", state_dir=self.state_dir))
            driver.preflight(self.provider_conf)
            self.__dict__["_slot_driver"] = driver
        return driver

    def __deepcopy__(self, memo: dict[int, Any]) -> ChameleonBaremetal:
        clone = copy.copy(self)
        clone.__dict__ = {k: copy.deepcopy(v, memo) for k, v in self.__dict__.items()
                          if k != "_slot_driver"}
        return clone

    def forget_availability(self) -> None:
        """Drop the cached allocations (after a refusal showed them stale)."""
        self.__dict__.pop("_slot_driver", None)

    def check_slot(self, start_time: int, end_time: int) -> SlotCheck:
        """`test_slot` with the reason of a refusal and when enough hosts are free."""
        return self._driver().test_slot(self.provider_conf, start_time, end_time)

    def test_slot(self, start_time: int, end_time: int) -> bool:
        """Whether enough hosts of each node type are free for the walltime from
        `start_time` (Blazar's host allocations)."""
        return bool(self.check_slot(start_time, end_time).ok)


CKVM = ChameleonKVM
CBM = ChameleonBaremetal
CKVMConf = ChameleonKvmConf
CBMConf = ChameleonBaremetalConf
CKVMMachineConf = OpenstackMachineConf
CBMMachineConf = OpenstackMachineConf
