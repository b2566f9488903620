"""The Distem provider: containers (vnodes) on Grid'5000 nodes, through plan/apply."""

from bedform.providers.distem.config import DistemConf, DistemMachineConf

__all__ = ["DistemConf", "DistemMachineConf"]
