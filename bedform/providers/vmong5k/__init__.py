"""The VMonG5k provider: virtual machines on Grid'5000 nodes, through plan/apply."""

from bedform.providers.vmong5k.config import VMonG5kConf, VMonG5kMachineConf

__all__ = ["VMonG5kConf", "VMonG5kMachineConf"]
