"""The OpenStack provider (`type: openstack`): see driver.py, and docs/openstack.md."""

from bedform.providers.openstack.config import OpenstackConf, OpenstackMachineConf

__all__ = ["OpenstackConf", "OpenstackMachineConf"]
