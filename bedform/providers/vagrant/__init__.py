"""The `vagrant` provider: real VMs with Vagrant (vagrant-libvirt on QEMU), offline.

Its EnOSlib-style class `Vagrant` lives above the planner, in `bedform.api.vagrant`.
"""

from bedform.providers.vagrant.config import VagrantConf, VagrantMachineConf, VagrantNetworkConf

__all__ = ["VagrantConf", "VagrantDriver", "VagrantMachineConf", "VagrantNetworkConf"]


def __getattr__(name: str):
    if name == "VagrantDriver":
        from bedform.providers.vagrant.driver import VagrantDriver

        return VagrantDriver
    raise AttributeError(name)
