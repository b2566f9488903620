"""`Local`: the EnOSlib-style provider class of the local testbed.

    conf = LocalConf.from_settings().add_machine(roles=["server"], number=2).finalize()
    with Local(conf) as (roles, networks):
        ...                     # hosts answer `ssh -i <keyfile> root@<address>`

This facade drives the planner; the driver (providers/local/driver.py) never imports it.
"""

from __future__ import annotations

from typing import ClassVar

from bedform.api.provider import Provider
from bedform.providers.local.config import LocalConf, LocalMachineConf, LocalNetworkConf

__all__ = ["Local", "LocalConf", "LocalMachineConf", "LocalNetworkConf"]


class Local(Provider):
    """Hosts on this machine: network namespaces with an sshd each (needs root)."""

    type_name: ClassVar[str] = "local"
