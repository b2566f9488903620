"""IoT-LAB inventory objects (EnOSlib's), registered so they round-trip through the state.

- `IotlabHost`: an A8 / Raspberry Pi board, `root@node-<board>`, reached through its
  site frontend (`gateway`, `gateway_user` = the IoT-LAB login in `extra`).
- `IotlabSensor`: any other board (m3, nrf52dk...), not an SSH host: its `start`,
  `stop` and `reset` methods call the API on the board's experiment.
- `IotlabNetwork`: a row of the per-site address table (there is no API for it).
"""

from __future__ import annotations

from typing import Any

from bedform.objects import (
    DefaultNetwork,
    Host,
    Serializable,
    register_host_class,
    register_network_class,
)

NETWORKS: dict[str, tuple[str, ...]] = {
    "grenoble": ("10.0.12.0/21", "2001:660:5307:3000::/64"),
    "paris": ("10.0.68.0/21", "2001:660:330f:a200::/64"),
    "saclay": ("10.0.44.0/21", "2001:660:3207:400::/64"),
    "strasbourg": ("10.0.36.0/21", "2001:660:4701:f080::/64"),
    "lyon": ("10.0.100.0/21",),
}
"""Site → its networks (EnOSlib's table); other sites have none."""


@register_host_class
class IotlabHost(Host):
    """A Linux board: `address` is `node-<board FQDN>`, logged into as root."""


@register_host_class
class IotlabSensor(Serializable):
    """A board that runs a firmware: `address` its FQDN, `alias` its short name.

    `experiment` is the id of the experiment holding it; `image` the firmware path the
    configuration gave (None: the idle firmware).
    """

    dict_fields = ("address", "alias", "site", "uid", "archi", "image", "experiment")

    def __init__(self, address: str, alias: str | None = None, site: str = "",
                 uid: str = "", archi: str = "", image: str | None = None,
                 experiment: int | None = None) -> None:
        self.address = address
        self.alias = alias or address.split(".")[0]
        self.site = site or (address.split(".")[1] if "." in address else "")
        self.uid = uid
        self.archi = archi
        self.image = image
        self.experiment = experiment

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, field) for field in self.dict_fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IotlabSensor) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.address, self.experiment))

    # -- EnOSlib's sensor control ----------------------------------------------------------
    def _command(self, command: str) -> dict[str, list[str]]:
        from bedform.providers.iotlab.client import Api

        if self.experiment is None:
            raise ValueError(f"{self.address} belongs to no experiment")
        return Api().node_command(command, int(self.experiment), [self.address])

    def start(self) -> dict[str, list[str]]:
        """Power the board on (`nodes/start`); the API's {"0": ok, "1": ko} lists."""
        return self._command("start")

    def stop(self) -> dict[str, list[str]]:
        """Power the board off (`nodes/stop`)."""
        return self._command("stop")

    def reset(self) -> dict[str, list[str]]:
        """Reset the board (`nodes/reset`)."""
        return self._command("reset")


@register_network_class
class IotlabNetwork(DefaultNetwork):
    """A site network of the address table; `roles` as EnOSlib's."""

    extra_dict_fields = ("roles",)

    def __init__(self, address: Any, roles: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(address, **kwargs)
        self.roles = list(roles or [])
