"""OpenStack emulator: Keystone v3, Nova v2.1, Neutron v2.0 and Glance v2 on one port.

Follows the real APIs closely enough that openstacksdk, the ``openstack`` CLI
and the per-service clients EnOSlib uses work against it unchanged: tokens and
a catalog, flavors, key pairs, servers on a virtual clock, networks, subnets,
routers, ports, floating IPs, security groups, quotas, plus ``/_emulator/``
control endpoints (clock, request log, faults, quotas, server state, reset).
See docs/emulators.md.
"""

from .server import DEFAULT_CLOUD_NAME, DEFAULT_PROJECTS, DEFAULT_USERS, OpenstackEmulator, run_cli

__all__ = ["DEFAULT_CLOUD_NAME", "DEFAULT_PROJECTS", "DEFAULT_USERS", "OpenstackEmulator",
           "run_cli"]
