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
from bedform.providers.iotlab.serial import IotlabSerial, IotlabSniffer

__all__ = [
    "BoardConf",
    "ConsumptionConf",
    "IotlabConf",
    "IotlabHost",
    "IotlabNetwork",
    "IotlabSensor",
    "IotlabSerial",
    "IotlabSniffer",
    "NetworkConf",
    "PhysNodeConf",
    "ProfileConf",
    "RadioConf",
]

