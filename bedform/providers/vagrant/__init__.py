"""The `vagrant` provider: real VMs with Vagrant (vagrant-libvirt on QEMU), offline.

Its EnOSlib-style class `Vagrant` lives above the planner, in `bedform.api.vagrant`.
"""

from bedform.providers.vagrant.config import VagrantConf, VagrantMachineConf, VagrantNetworkConf

VagrantMachineMachineConf = VagrantMachineConf
"""The name EnOSlib exports for the machine configuration (sic)."""

__all__ = ["VagrantConf", "VagrantDriver", "VagrantMachineConf", "VagrantMachineMachineConf",
           "VagrantNetworkConf"]


def __getattr__(name: str):
    if name == "VagrantDriver":
        from bedform.providers.vagrant.driver import VagrantDriver

        return VagrantDriver
    raise AttributeError(name)
