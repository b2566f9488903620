"""The `local` provider: real, SSH-reachable hosts on this machine (network namespaces,
bridges, veth pairs and one OpenSSH server per host). Needs root."""

from bedform.providers.local.config import LocalConf, LocalMachineConf, LocalNetworkConf

__all__ = ["Local", "LocalConf", "LocalDriver", "LocalMachineConf", "LocalNetworkConf"]


def __getattr__(name: str):
    # Lazy: the driver pulls in the netlink code, and `Local` the planner (a layer above
    # the drivers, which must not import it).
    if name == "LocalDriver":
        from bedform.providers.local.driver import LocalDriver

        return LocalDriver
    if name == "Local":
        from bedform.providers.local.provider import Local

        return Local
    raise AttributeError(name)
