"""Grid'5000 provider: configuration, driver, network objects, `G5kHost`, `G5kTunnel`.

Its EnOSlib-style class `G5k` lives above the planner, in `bedform.api.g5k`.
"""

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
from bedform.providers.g5k.tunnel import G5kTunnel

__all__ = [
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

