"""Grid'5000 in a box: the emulator's nodes as real SSH hosts (network namespaces on
this machine) behind an access frontend, with kavlan bridges and DHCP servers."""

from .box import Box, purge
from .control import box_control

__all__ = ["Box", "box_control", "purge"]
