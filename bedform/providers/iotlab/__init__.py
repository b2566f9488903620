"""FIT IoT-LAB provider: configuration, driver, inventory objects and the `Iotlab` facade."""

from bedform.providers.iotlab.config import (
    BoardConf,
    ConsumptionConf,
    IotlabConf,
    NetworkConf,
    PhysNodeConf,
    ProfileConf,
    RadioConf,
)
from bedform.providers.iotlab.objects import IotlabHost, IotlabNetwork, IotlabSensor

__all__ = [
    "BoardConf",
    "ConsumptionConf",
    "Iotlab",
    "IotlabConf",
    "IotlabHost",
    "IotlabNetwork",
    "IotlabSensor",
    "NetworkConf",
    "PhysNodeConf",
    "ProfileConf",
    "RadioConf",
]


def __getattr__(name: str):
    # Lazy: `Iotlab` is a facade over the planner, a layer above the driver, which
    # importing this package must not pull in.
    if name == "Iotlab":
        from bedform.providers.iotlab.provider import Iotlab

        return Iotlab
    raise AttributeError(name)
