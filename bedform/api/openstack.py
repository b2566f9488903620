"""`Openstack`: the EnOSlib-style provider class of an OpenStack cloud.

    conf = (OpenstackConf.from_settings(key_name="mykey", image="debian-12",
                                        user="debian", cloud="mycloud")
            .add_machine(roles=["server"], flavour="m1.small", number=1)
            .add_machine(roles=["client"], flavour="m1.tiny", number=3)
            .finalize())
    with Openstack(conf) as (roles, networks):
        ...                     # hosts reached through the gateway's floating IP

This facade drives the planner; the driver (providers/openstack/driver.py) never
imports it. OpenStack has no reservations: `init` creates (or reloads) at once, and
EnOSlib's `offset_walltime` is a no-op rather than NotImplementedError.
"""

from __future__ import annotations

from typing import ClassVar

from bedform.api.provider import Provider
from bedform.providers.openstack.config import OpenstackConf, OpenstackMachineConf

__all__ = ["Openstack", "OpenstackConf", "OpenstackMachineConf"]


class Openstack(Provider):
    """Servers, network, router and floating IP on an OpenStack cloud, by plan/apply."""

    type_name: ClassVar[str] = "openstack"
    provider_conf: OpenstackConf

    @property
    def stack_name(self) -> str:
        """The configuration's prefix, else the provider name (names every object)."""
        return self.provider_conf.prefix or self.name
