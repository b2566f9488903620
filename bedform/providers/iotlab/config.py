"""Configuration of the `iotlab` provider: EnOSlib's field names, defaults and builders.

```yaml
iot:
  type: iotlab
  job_name: my-exp            # default: the stack name (EnOSlib: "EnOSlib")
  walltime: "01:30"           # HH:MM (EnOSlib's default "00:01" is kept)
  start_time: "2026-04-01 14:00:00"   # optional, Europe/Paris wall clock
  resources:
    machines:                 # all boards, or all physical nodes (never a mix)
      - {roles: [sensor], archi: "m3:at86rf231", site: grenoble, number: 3,
         image: ./firmware-a.elf, profile: radio-rssi}
      - {roles: [linux], archi: "a8:at86rf231", site: grenoble, number: 1}
    networks:
      - {id: prod-grenoble, type: prod, roles: [lan], site: grenoble}
  monitoring:
    profiles:
      - {name: radio-rssi, archi: m3, radio: {mode: rssi, channels: [11, 26], period: 100}}
```

Python: `IotlabConf.from_settings(job_name="x", walltime="01:00").add_machine(
roles=["s"], archi="m3:at86rf231", site="grenoble", number=3).finalize()` gives the same
object as `from_dictionary`. Physical nodes: `add_machine(roles=[...], hostname=[...])`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from bedform.errors import ConfigError
from bedform.providers.iotlab.schema import (
    DEFAULT_FRONTEND,
    DEFAULT_WALLTIME,
    FIRMWARE_SUFFIXES,
    LINUX_FAMILIES,
    SCHEMA,
)
from bedform.providers.schema import validate_section


def walltime_minutes(walltime: str) -> int:
    """'HH:MM' in minutes (any number of hours)."""
    hours, minutes = walltime.split(":")[:2]
    return int(hours) * 60 + int(minutes)


def format_walltime(minutes: int) -> str:
    """Minutes as 'HH:MM' (24 h and more work)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def is_linux(address_or_archi: str) -> bool:
    """Whether a board (network address or archi) runs Linux: A8 and Raspberry Pi."""
    return address_or_archi.startswith(LINUX_FAMILIES)


@attrs.define
class RadioConf:
    """Radio monitoring: `mode` rssi or sniffer on `channels` (11-26)."""

    mode: str = "rssi"
    channels: list[int] = attrs.field(factory=lambda: [11])
    period: int | None = None
    num_per_channel: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "channels": list(self.channels), "period": self.period,
                "num_per_channel": self.num_per_channel}

    def api_body(self) -> dict[str, Any]:
        """As the API stores it (rssi's count per channel defaults to 0)."""
        body = self.to_dict()
        if self.mode == "rssi" and body["num_per_channel"] is None:
            body["num_per_channel"] = 0
        return body


@attrs.define
class ConsumptionConf:
    """Consumption monitoring: what to measure, sampling `period` (µs) and `average`."""

    current: bool = False
    power: bool = False
    voltage: bool = False
    period: int = 8244
    average: int = 4

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "power": self.power, "voltage": self.voltage,
                "period": self.period, "average": self.average}


@attrs.define
class ProfileConf:
    """A monitoring profile (EnOSlib's ProfileConfiguration); power mode is `dc`."""

    name: str
    archi: str
    radio: RadioConf | None = None
    consumption: ConsumptionConf | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "archi": self.archi}
        if self.radio is not None:
            out["radio"] = self.radio.to_dict()
        if self.consumption is not None:
            out["consumption"] = self.consumption.to_dict()
        return out

    def api_body(self) -> dict[str, Any]:
        """The profile as `POST monitoring` takes it."""
        return {"profilename": self.name, "power": "dc", "nodearch": self.archi,
                "radio": self.radio.api_body() if self.radio else None,
                "consumption": self.consumption.to_dict() if self.consumption else None}


@attrs.define
class NetworkConf:
    """A network (only `prod` exists on IoT-LAB): the site's rows of the address table."""

    id: str
    roles: list[str] = attrs.field(factory=list)
    type: str = "prod"
    site: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "roles": list(self.roles), "site": self.site}


@attrs.define
class BoardConf:
    """`number` boards of `archi` on `site`."""

    roles: list[str] = attrs.field(factory=list)
    archi: str = ""
    site: str = ""
    number: int = 1
    image: str | None = None
    profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": list(self.roles), "archi": self.archi,
                               "site": self.site, "number": self.number}
        return _with_optional(out, self.image, self.profile)

    @property
    def linux(self) -> bool:
        return is_linux(self.archi)


@attrs.define
class PhysNodeConf:
    """Named boards (FQDNs of one architecture)."""

    roles: list[str] = attrs.field(factory=list)
    hostname: list[str] = attrs.field(factory=list)
    image: str | None = None
    profile: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"roles": list(self.roles), "hostname": list(self.hostname)}
        return _with_optional(out, self.image, self.profile)

    @property
    def linux(self) -> bool:
        return bool(self.hostname) and is_linux(self.hostname[0])

    @property
    def number(self) -> int:
        return len(self.hostname)


def _with_optional(out: dict[str, Any], image: str | None, profile: str | None
                   ) -> dict[str, Any]:
    if image is not None:
        out["image"] = image
    if profile is not None:
        out["profile"] = profile
    return out


_TOP_FIELDS = ("job_name", "walltime", "start_time", "frontend", "wait_ssh")


@attrs.define
class IotlabConf:
    """EnOSlib's IoT-LAB Configuration, with a JSON schema and EnOSlib's builder API."""

    job_name: str | None = None
    walltime: str = DEFAULT_WALLTIME
    start_time: str | None = None
    frontend: str | dict[str, str] = DEFAULT_FRONTEND
    wait_ssh: bool = False
    machines: list[BoardConf | PhysNodeConf] = attrs.field(factory=list)
    networks: list[NetworkConf] = attrs.field(factory=list)
    profiles: list[ProfileConf] = attrs.field(factory=list)

    # -- builders ------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, **kwargs: Any) -> IotlabConf:
        conf = cls()
        for key, value in kwargs.items():
            if key not in _TOP_FIELDS:
                raise ConfigError(f"unknown field {key!r}", (key,),
                                  hint=f"Known fields: {', '.join(_TOP_FIELDS)}.")
            setattr(conf, key, value)
        return conf

    @classmethod
    def from_dictionary(cls, dictionary: Mapping[str, Any], validate: bool = True
                        ) -> IotlabConf:
        if validate:
            validate_section(SCHEMA, dictionary)
        data = copy.deepcopy(dict(dictionary))
        conf = cls.from_settings(**{k: v for k, v in data.items()
                                    if k in _TOP_FIELDS and v is not None})
        resources = data.get("resources", {})
        for net in resources.get("networks", []):
            conf.add_network(net_id=net["id"], roles=net["roles"], net_type=net["type"],
                             site=net["site"])
        for machine in resources.get("machines", []):
            conf.add_machine(**machine)
        for profile in data.get("monitoring", {}).get("profiles", []):
            conf.add_profile(**profile)
        return conf.finalize()

    from_dictionnary = from_dictionary

    def add_machine(self, **kwargs: Any) -> IotlabConf:
        """A board group (`archi=`) or a physical group (`hostname=[...]`)."""
        where = ("resources", "machines", len(self.machines))
        if "hostname" in kwargs:
            self.machines.append(PhysNodeConf(**kwargs))
        elif "archi" in kwargs:
            self.machines.append(BoardConf(**kwargs))
        else:
            raise ConfigError("a machine group needs `archi` (with site and number) or "
                              "`hostname`", where,
                              hint="e.g. {roles: [s], archi: \"m3:at86rf231\", site: "
                                   "grenoble, number: 2}")
        return self

    def add_machine_conf(self, machine: BoardConf | PhysNodeConf) -> IotlabConf:
        self.machines.append(machine)
        return self

    def add_network(self, net_id: str | None = None, roles: list[str] | None = None,
                    net_type: str = "prod", site: str = "", **kwargs: Any) -> IotlabConf:
        """EnOSlib's keywords (`net_id`, `net_type`); `id`/`type` are accepted too."""
        self.networks.append(NetworkConf(id=kwargs.pop("id", net_id) or f"prod-{site}",
                                         roles=list(roles or []),
                                         type=kwargs.pop("type", net_type), site=site))
        if kwargs:
            raise ConfigError(f"unknown network field(s) {sorted(kwargs)}",
                              ("resources", "networks", len(self.networks) - 1))
        return self

    def add_network_conf(self, network: NetworkConf) -> IotlabConf:
        self.networks.append(network)
        return self

    def add_profile(self, name: str, archi: str, radio: Any = None,
                    consumption: Any = None) -> IotlabConf:
        """A monitoring profile; `radio`/`consumption` as dicts or Radio/ConsumptionConf."""
        if isinstance(radio, Mapping):
            radio = RadioConf(**radio)
        if isinstance(consumption, Mapping):
            consumption = ConsumptionConf(**consumption)
        self.profiles.append(ProfileConf(name, archi, radio, consumption))
        return self

    # -- checks --------------------------------------------------------------------------
    def finalize(self) -> IotlabConf:
        """Validate (homogeneous groups, profiles, dates, firmware names); returns self."""
        validate_section(SCHEMA, self.to_dict())
        if walltime_minutes(self.walltime) < 1:
            raise ConfigError("walltime must be at least one minute", ("walltime",),
                              hint="e.g. walltime: \"00:30\"")
        if self.start_time:
            try:
                datetime.strptime(self.start_time, "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise ConfigError(f"start_time {self.start_time!r} is not a real date",
                                  ("start_time",),
                                  hint="Use YYYY-MM-DD HH:MM:SS, Europe/Paris time.") from None
        if isinstance(self.frontend, str) and "{site}" not in self.frontend \
                and "." not in self.frontend:
            raise ConfigError(f"frontend {self.frontend!r} names no host", ("frontend",),
                              hint=f"Use a host name, {{site}} is replaced: "
                                   f"{DEFAULT_FRONTEND}")
        names = [p.name for p in self.profiles]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise ConfigError(f"profile {name!r} is defined twice",
                                  ("monitoring", "profiles", index, "name"))
        for index, profile in enumerate(self.profiles):
            if profile.radio is not None:
                _check_radio(profile.radio, ("monitoring", "profiles", index, "radio"))
            consumption = profile.consumption
            if consumption and not (consumption.current or consumption.power
                                    or consumption.voltage):
                raise ConfigError("consumption measures nothing",
                                  ("monitoring", "profiles", index, "consumption"),
                                  hint="Set at least one of current, power, voltage: true.")
        seen: dict[str, int] = {}
        for index, machine in enumerate(self.machines):
            self._check_machine(index, machine, seen)
        return self

    def _check_machine(self, index: int, machine: BoardConf | PhysNodeConf,
                       seen: dict[str, int]) -> None:
        path = ("resources", "machines", index)
        if isinstance(machine, PhysNodeConf):
            families = {h.split("-", 1)[0] for h in machine.hostname}
            if len(families) > 1:
                raise ConfigError(f"hostname mixes architectures {sorted(families)}",
                                  (*path, "hostname"),
                                  hint="Put boards of each architecture in their own group.")
            for host in machine.hostname:
                if host in seen:
                    raise ConfigError(f"{host} is already in machine group {seen[host]}",
                                      (*path, "hostname"))
                seen[host] = index
        if machine.image is not None:
            if not machine.image.lower().endswith(FIRMWARE_SUFFIXES):
                raise ConfigError(f"firmware {machine.image!r} must end with .elf, .hex or "
                                  ".bin", (*path, "image"))
            if machine.linux:
                raise ConfigError("A8 and Raspberry Pi boards run Linux and cannot be "
                                  "flashed", (*path, "image"),
                                  hint="Remove `image` from this group (install software "
                                       "over SSH instead).")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field in _TOP_FIELDS:
            value = getattr(self, field)
            if value is not None:
                out[field] = copy.deepcopy(value)
        out["resources"] = {"machines": [m.to_dict() for m in self.machines],
                            "networks": [n.to_dict() for n in self.networks]}
        if self.profiles:
            out["monitoring"] = {"profiles": [p.to_dict() for p in self.profiles]}
        return out

    # -- views ---------------------------------------------------------------------------
    @property
    def reservation(self) -> str | None:
        """The advance reservation (the slot step's name for `start_time`)."""
        return self.start_time

    @property
    def physical(self) -> bool:
        """Whether the groups name boards (else they ask for counts of an archi)."""
        return bool(self.machines) and isinstance(self.machines[0], PhysNodeConf)

    def machine_sites(self) -> list[str]:
        """Sites of the machine groups and networks."""
        sites = {n.site for n in self.networks}
        for machine in self.machines:
            if isinstance(machine, BoardConf):
                sites.add(machine.site)
            else:
                sites.update(host.split(".")[1] for host in machine.hostname)
        return sorted(sites)

    def frontend_of(self, site: str) -> str:
        """The SSH frontend of `site`."""
        if isinstance(self.frontend, dict):
            return self.frontend.get(site) or DEFAULT_FRONTEND.replace("{site}", site)
        return self.frontend.replace("{site}", site)

    def __repr__(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _check_radio(radio: RadioConf, path: tuple[str | int, ...]) -> None:
    """The client's rules: sniffer listens on one channel with no period; rssi needs a
    period, and a count per channel when it hops over several channels."""
    if radio.mode == "sniffer":
        if len(radio.channels) != 1:
            raise ConfigError("sniffer mode listens on exactly one channel",
                              (*path, "channels"), hint="e.g. channels: [11]")
        if radio.period is not None or radio.num_per_channel is not None:
            raise ConfigError("sniffer mode takes no period nor num_per_channel", path,
                              hint="Remove them, or use mode: rssi.")
        return
    if radio.period is None:
        raise ConfigError("rssi mode needs a period", (*path, "period"),
                          hint="e.g. period: 100 (ms, 1 to 65535)")
    if len(radio.channels) > 1 and not radio.num_per_channel:
        raise ConfigError("rssi over several channels needs num_per_channel",
                          (*path, "num_per_channel"),
                          hint="How many measures before hopping to the next channel, "
                               "1 to 255.")


def load(section: Mapping[str, Any]) -> IotlabConf:
    """Validate a stack section (ConfigError with the YAML path) into an IotlabConf."""
    validate_section(SCHEMA, section)
    return IotlabConf.from_dictionary(section, validate=False)

