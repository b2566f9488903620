"""`Vagrant`: the EnOSlib-style provider class of the vagrant provider.

    conf = (VagrantConf.from_settings(backend="libvirt")
            .add_machine(roles=["server"], flavour="tiny", number=1)
            .add_network(cidr="192.168.56.0/24", roles=["private"]).finalize())
    with Vagrant(conf) as (roles, networks):
        ...        # hosts answer `ssh -i <keyfile> root@<address>`

Unlike EnOSlib, the Vagrantfile and `.vagrant/` live in the state directory, not in the
working directory, and a reload runs one `vagrant status` instead of `vagrant up`.
This facade drives the planner; the driver (providers/vagrant/driver.py) never imports it.
"""

from __future__ import annotations

from typing import ClassVar

from bedform.api.provider import Provider
from bedform.providers.vagrant.config import VagrantConf, VagrantMachineConf, VagrantNetworkConf

__all__ = ["Vagrant", "VagrantConf", "VagrantMachineConf", "VagrantNetworkConf"]


class Vagrant(Provider):
    """VMs on this machine through Vagrant (vagrant-libvirt under QEMU; needs root)."""

    type_name: ClassVar[str] = "vagrant"
