"""`Iotlab`: the EnOSlib-style provider class of FIT IoT-LAB.

    conf = (IotlabConf.from_settings(job_name="exp", walltime="01:00")
            .add_machine(roles=["sensor"], archi="m3:at86rf231", site="grenoble",
                         number=3, image="firmware.elf")
            .finalize())
    with Iotlab(conf) as (roles, networks):
        roles["sensor"][0].reset()

This facade drives the planner; the driver (providers/iotlab/driver.py) never imports
it. `IotlabSerial` and `IotlabSniffer` (bedform.providers.iotlab.serial) reach the
sensors through their site frontend.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bedform.api.provider import ReservingProvider, _instance_name
from bedform.errors import NegativeWalltime
from bedform.providers.g5k.client import epoch_to_paris
from bedform.providers.iotlab.config import IotlabConf, format_walltime, walltime_minutes


class Iotlab(ReservingProvider):
    """An IoT-LAB experiment, its firmware and profiles, through plan/apply."""

    type_name: ClassVar[str] = "iotlab"
    provider_conf: IotlabConf

    def set_reservation(self, timestamp: int) -> None:
        """Start at `timestamp` (UTC epoch), written as EnOSlib does in Paris time."""
        self.provider_conf.start_time = epoch_to_paris(timestamp)

    def offset_walltime(self, offset: int) -> None:
        """Change the walltime by `offset` seconds (leftover seconds rounded down)."""
        minutes = (walltime_minutes(self.provider_conf.walltime) * 60 + offset) // 60
        if minutes <= 0:
            raise NegativeWalltime("the walltime would be less than a minute")
        self.provider_conf.walltime = format_walltime(minutes)

    def async_init(self, force_deploy: bool = False, start_time: int | None = None,
                   **kwargs: Any) -> None:
        """Submit the experiment without waiting; `init` then adopts it by name. An
        IoT-LAB refusal raises InvalidReservationTime(hint)."""
        if start_time is not None:
            self.set_reservation(start_time)
        self._driver().submit_experiment(self.provider_conf, _instance_name(self.name))

    def destroy(self, wait: bool = False, **kwargs: Any) -> None:
        """Destroy what the state holds, and an experiment `async_init` submitted."""
        super().destroy(wait, **kwargs)
        self._driver().stop_experiments(self.provider_conf)

    def is_created(self) -> bool:
        """An active experiment of ours with the configuration's name (EnOSlib)."""
        driver = self._driver()
        name = driver.job_name(self.provider_conf)
        return any(item.get("name") == name for item in driver.api.active_experiments())
