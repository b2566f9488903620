"""The EnOSlib-style `VMonG5k` provider: `VMonG5k(conf).init()` → (roles, networks) of
the VMs, with the G5k reservation methods (`set_reservation`, `offset_walltime`,
`test_slot`, `async_init`, `is_created`) applied to the VMs' job.

This facade drives the planner; the driver (providers/vmong5k/driver.py) never imports it.
"""

from __future__ import annotations

from typing import ClassVar

from bedform.api.g5k import G5k
from bedform.providers.vmong5k.config import VMonG5kConf, VMonG5kMachineConf
from bedform.providers.vmong5k.driver import VMonG5kDriver

__all__ = ["VMonG5k", "VMonG5kConf", "VMonG5kMachineConf"]


class VMonG5k(G5k):
    """Virtual machines on Grid'5000 nodes through plan/apply."""

    type_name: ClassVar[str] = "vmong5k"
    driver_class: ClassVar[type[VMonG5kDriver]] = VMonG5kDriver
    provider_conf: VMonG5kConf  # type: ignore[assignment]
