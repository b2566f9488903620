"""The EnOSlib-style `Distem` provider: `Distem(conf).init()` → (roles, networks) of the
vnodes, with the G5k reservation methods (`set_reservation`, `offset_walltime`,
`test_slot`, `async_init`, `is_created`) applied to the pnodes' job, and a `destroy`
that removes the vnodes, the vnetwork and the job.

This facade drives the planner; the driver (providers/distem/driver.py) never imports it.
"""

from __future__ import annotations

from typing import ClassVar

from bedform.api.g5k import G5k
from bedform.providers.distem.config import DistemConf, DistemMachineConf
from bedform.providers.distem.driver import DistemDriver

__all__ = ["Distem", "DistemConf", "DistemMachineConf"]


class Distem(G5k):
    """Distem vnodes on Grid'5000 nodes through plan/apply."""

    type_name: ClassVar[str] = "distem"
    driver_class: ClassVar[type[DistemDriver]] = DistemDriver
    provider_conf: DistemConf  # type: ignore[assignment]
