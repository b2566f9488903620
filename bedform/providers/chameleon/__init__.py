"""Chameleon: `chameleonkvm` (OpenStack with Chameleon's defaults) and
`chameleonbaremetal` (Blazar leases of bare-metal hosts, servers on them)."""

from bedform.providers.chameleon.config import (
    ChameleonBaremetalConf,
    ChameleonKvmConf,
)
from bedform.providers.openstack.config import OpenstackMachineConf

__all__ = ["ChameleonBaremetalConf", "ChameleonKvmConf", "OpenstackMachineConf"]
