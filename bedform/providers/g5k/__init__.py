"""Grid'5000 provider: configuration, driver, network objects and the `G5k` facade."""

from bedform.providers.g5k.config import (
    G5kClusterConf,
    G5kConf,
    G5kNetworkConf,
    G5kServersConf,
)
from bedform.providers.g5k.host import G5kHost
from bedform.providers.g5k.objects import (
    G5kEnosProd4Network,
    G5kEnosProd6Network,
    G5kEnosSubnetNetwork,
    G5kEnosVlan4Network,
    G5kEnosVlan6Network,
)

__all__ = [
    "G5k",
    "G5kClusterConf",
    "G5kConf",
    "G5kEnosProd4Network",
    "G5kEnosProd6Network",
    "G5kEnosSubnetNetwork",
    "G5kEnosVlan4Network",
    "G5kEnosVlan6Network",
    "G5kHost",
    "G5kNetworkConf",
    "G5kServersConf",
    "G5kTunnel",
]


def __getattr__(name: str):
    # Lazy: `G5k` is a facade over the planner, a layer above the driver, which importing
    # this package must not pull in.
    if name == "G5k":
        from bedform.providers.g5k.provider import G5k

        return G5k
    if name == "G5kTunnel":
        from bedform.providers.g5k.tunnel import G5kTunnel

        return G5kTunnel
    raise AttributeError(name)
