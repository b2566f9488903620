"""Grid'5000 provider: configuration, driver, network objects and the `G5k` facade."""

from bedform.providers.g5k.config import (
    G5kClusterConf,
    G5kConf,
    G5kNetworkConf,
    G5kServersConf,
)
from bedform.providers.g5k.objects import (
    G5kEnosProd4Network,
    G5kEnosProd6Network,
    G5kEnosSubnetNetwork,
    G5kEnosVlan4Network,
    G5kEnosVlan6Network,
)
from bedform.providers.g5k.provider import G5k

__all__ = [
    "G5k",
    "G5kClusterConf",
    "G5kConf",
    "G5kEnosProd4Network",
    "G5kEnosProd6Network",
    "G5kEnosSubnetNetwork",
    "G5kEnosVlan4Network",
    "G5kEnosVlan6Network",
    "G5kNetworkConf",
    "G5kServersConf",
]
