"""The IoT-LAB driver: configuration, expansion into kinds, reservations, inventory.

Resources of a provider instance `iot`, one handler per kind:

- `iot.profile[<name>]` (`iotlab_profile`, monitoring.py): a configured monitoring
  profile with radio or consumption settings.
- `iot.experiment` (`iotlab_experiment`, experiments.py): the experiment holding every
  board of the configuration.
- `iot.firmware[<group>]` (`iotlab_firmware`, firmware.py): the firmware of a group
  with an `image`, flashed only when its content changes.
- `iot.profile_association[<group>]` (monitoring.py): a group's `profile` loaded.
- `iot.boot[<group>]` (`iotlab_linux_ready`, readiness.py): A8/RPi groups booted.

Refresh costs one listing of our active experiments (plus a GET of a recorded
experiment only when it is gone, to say why) and one `GET monitoring` when profiles
are recorded. A no-op apply makes no other call.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bedform.errors import NegativeWalltime, PreflightError
from bedform.objects import Networks, Roles
from bedform.providers.base import Capabilities, Ref, Resource, SlotCheck
from bedform.providers.g5k.client import epoch_to_paris, paris_to_epoch
from bedform.providers.iotlab import availability, inventory
from bedform.providers.iotlab import config as iotconf
from bedform.providers.iotlab.client import Api, epoch_to_iso
from bedform.providers.iotlab.config import (
    BoardConf,
    IotlabConf,
    format_walltime,
    walltime_minutes,
)
from bedform.providers.iotlab.experiments import ExperimentKind, find_ours, submit
from bedform.providers.iotlab.firmware import FirmwareKind, firmware_inputs
from bedform.providers.iotlab.monitoring import ProfileAssociationKind, ProfileKind
from bedform.providers.iotlab.readiness import LinuxReadyKind
from bedform.providers.kinds import KindDriver
from bedform.state.model import Record


class IotlabDriver(KindDriver):
    """Driver of `type: iotlab` sections."""

    type_name = "iotlab"
    handlers = (ExperimentKind, ProfileKind, FirmwareKind, ProfileAssociationKind,
                LinuxReadyKind)
    capabilities = Capabilities(advance_reservation=True, test_slot=True,
                                walltime_update=False, max_concurrent_calls=4)

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._api: Api | None = None
        self._nodes: list[dict[str, Any]] | None = None
        self._gantt: tuple[float, float, list[dict[str, Any]]] | None = None

    # -- configuration -------------------------------------------------------------------
    @classmethod
    def schema(cls) -> dict[str, Any]:
        return iotconf.SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> IotlabConf:
        return iotconf.load(section)

    def preflight(self, conf: Any = None) -> None:
        self.api  # noqa: B018 - reads and checks the credentials file

    @property
    def api(self) -> Api:
        """The iotlabcli client, created on first use."""
        if self._api is None:
            self._api = Api()
        return self._api

    def _username(self) -> str:
        """The IoT-LAB login (identity of experiments); empty when credentials are
        missing, which `preflight` reports before any remote call."""
        try:
            return self.api.username
        except PreflightError:
            return ""

    # -- desired resources ---------------------------------------------------------------
    def job_name(self, conf: IotlabConf) -> str:
        return conf.job_name or self.context.stack_name

    def expand(self, name: str, conf: IotlabConf,
               records: Mapping[str, Record] | None = None) -> list[Resource]:
        user = self._username()
        resources: list[Resource] = []
        profiles: dict[str, str] = {}
        for profile in conf.profiles:
            if profile.radio is None and profile.consumption is None:
                continue   # EnOSlib creates only profiles that measure something
            address = f"{name}.profile[{profile.name}]"
            profiles[profile.name] = address
            resources.append(Resource(address, "iotlab_profile", profile.api_body(),
                                      identity={"name": profile.name, "user": user}))
        job_name = self.job_name(conf)
        groups: list[dict[str, Any]] = []
        for index, machine in enumerate(conf.machines):
            if isinstance(machine, BoardConf):
                groups.append({"index": index, "archi": machine.archi, "site": machine.site,
                               "number": machine.number})
            else:
                groups.append({"index": index, "hostname": list(machine.hostname)})
        inputs: dict[str, Any] = {"name": job_name,
                                  "duration": walltime_minutes(conf.walltime),
                                  "groups": groups}
        if conf.start_time:
            inputs["start_time"] = conf.start_time
        exp = f"{name}.experiment"
        resources.append(Resource(exp, "iotlab_experiment", inputs,
                                  identity={"name": job_name, "user": user}))
        for index, machine in enumerate(conf.machines):
            on_group = {"experiment": Ref(exp, "id"), "nodes": Ref(exp, f"groups[{index}]")}
            if machine.image:
                where = ("resources", "machines", index, "image")
                resources.append(Resource(f"{name}.firmware[{index}]", "iotlab_firmware",
                                          {**on_group, **firmware_inputs(machine.image, where)}))
            if machine.profile:
                depends = [profiles[machine.profile]] if machine.profile in profiles else []
                resources.append(Resource(f"{name}.profile_association[{index}]",
                                          "iotlab_profile_association",
                                          {**on_group, "profile": machine.profile},
                                          depends_on=depends))
            if machine.linux:
                sites = sorted({h.split(".")[1] for h in getattr(machine, "hostname", [])}
                               | ({machine.site} if isinstance(machine, BoardConf) else set()))
                resources.append(Resource(
                    f"{name}.boot[{index}]", "iotlab_linux_ready",
                    {**on_group, "wait_ssh": conf.wait_ssh, "user": user,
                     "frontends": {site: conf.frontend_of(site) for site in sites}}))
        return resources

    # -- reservations: the slot step -----------------------------------------------------
    def walltime(self, conf: IotlabConf) -> int:
        return walltime_minutes(conf.walltime) * 60

    def with_reservation(self, conf: IotlabConf, start: float, offset: int = 0) -> IotlabConf:
        """A copy of `conf` starting at `start` (UTC epoch, written in Europe/Paris wall
        clock) with the walltime changed by `offset` seconds, rounded down to minutes."""
        minutes = (walltime_minutes(conf.walltime) * 60 + int(offset)) // 60
        if minutes <= 0:
            raise NegativeWalltime(f"walltime {conf.walltime} {offset:+d} s would be less "
                                   "than a minute")
        new = copy.deepcopy(conf)
        new.start_time = epoch_to_paris(start)
        new.walltime = format_walltime(minutes)
        return new

    def recorded_reservation(self, conf: IotlabConf, records: Mapping[str, Record]
                             ) -> tuple[float, int] | None:
        if conf.start_time:
            return None
        for record in records.values():
            if record.kind == "iotlab_experiment" and record.inputs.get("start_time"):
                return (paris_to_epoch(record.inputs["start_time"]),
                        int(record.inputs["duration"]) * 60)
        return None

    def test_slot(self, conf: IotlabConf, start: float, end: float) -> SlotCheck:
        """Enough free boards from `start` for the walltime (EnOSlib's model): `GET nodes`
        once per driver, the Gantt chart once per search window."""
        if self._nodes is None:
            self._nodes = list(self.api.get("nodes")["items"])
        stop = max(end, start) + self.walltime(conf)
        if self._gantt is None or not (self._gantt[0] <= start and stop <= self._gantt[1]):
            items = self.api.get(f"drawgantt/experiments?start={epoch_to_iso(start)}"
                                 f"&stop={epoch_to_iso(stop)}")["items"]
            self._gantt = (start, stop, list(items))
        return availability.test_slot(conf, start, self._nodes, self._gantt[2])

    # -- EnOSlib's async_init and destroy by name ----------------------------------------
    def submit_experiment(self, conf: IotlabConf, name: str) -> int:
        """Submit the experiment without waiting (EnOSlib's async reserve); one of ours
        with the same name is reused. A refusal raises InvalidReservationTime with the
        hinted (Europe/Paris, tz-aware) start."""
        resource = next(r for r in self.expand(name, conf, {})
                        if r.kind == "iotlab_experiment")
        found = find_ours(self.api.active_experiments(), resource.inputs["name"])
        return found if found is not None else submit(self.api, resource.inputs)

    def stop_experiments(self, conf: IotlabConf) -> None:
        """Stop our active experiments named like the conf's."""
        name = self.job_name(conf)
        for item in self.api.active_experiments():
            if item.get("name") == name:
                self.api.stop(int(item["id"]))

    # -- inventory -----------------------------------------------------------------------
    def inventory(self, name: str, conf: IotlabConf, records: Mapping[str, Record]
                  ) -> tuple[Roles, Networks]:
        return inventory.inventory(conf, records, self._username())
