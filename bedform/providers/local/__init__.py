"""The `local` provider: real, SSH-reachable hosts on this machine (network namespaces,
bridges, veth pairs and one OpenSSH server per host). Needs root.

Its EnOSlib-style class `Local` lives above the planner, in `bedform.api.local`.
"""

from bedform.providers.local.config import LocalConf, LocalMachineConf, LocalNetworkConf

__all__ = ["LocalConf", "LocalDriver", "LocalMachineConf", "LocalNetworkConf"]


def __getattr__(name: str):
    # Lazy: the driver pulls in the netlink code.
    if name == "LocalDriver":
        from bedform.providers.local.driver import LocalDriver

        return LocalDriver
    raise AttributeError(name)
