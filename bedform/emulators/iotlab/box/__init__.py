"""FIT IoT-LAB in a box: the site frontends as real SSH hosts with the aggregation
tools, a serial console per running firmware board, and the Linux boards of running
experiments as SSH hosts behind their frontend (network namespaces on this machine)."""

from .box import IotlabBox, purge

__all__ = ["IotlabBox", "purge"]
