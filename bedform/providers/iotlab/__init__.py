"""FIT IoT-LAB provider: configuration, driver and inventory objects (the
`Iotlab` facade is bedform.api.iotlab)."""

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
    "IotlabConf",
    "IotlabHost",
    "IotlabNetwork",
    "IotlabSensor",
    "NetworkConf",
    "PhysNodeConf",
    "ProfileConf",
    "RadioConf",
]

