"""OpenStack in a box: the emulated cloud's ACTIVE servers as real SSH hosts (network
namespaces on this machine) on a bridge per tenant network, reachable from this machine
through their floating IPs on the external network's bridge."""

from .box import OpenstackBox, purge
from .control import box_control
from .network import external_cidr

__all__ = ["OpenstackBox", "box_control", "external_cidr", "purge"]
