"""bedform: plan and apply experiment infrastructure on research testbeds.

The public API is importable from here, as in EnOSlib (`from bedform import G5k, Roles`);
each name is loaded on first use, so `import bedform` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Host": "bedform.objects", "Network": "bedform.objects",
    "DefaultNetwork": "bedform.objects", "Roles": "bedform.objects",
    "Networks": "bedform.objects",
    "Local": "bedform.api.local", "LocalConf": "bedform.providers.local",
    "LocalMachineConf": "bedform.providers.local",
    "LocalNetworkConf": "bedform.providers.local",
    "G5k": "bedform.api.g5k", "G5kConf": "bedform.providers.g5k",
    "G5kClusterConf": "bedform.providers.g5k", "G5kServersConf": "bedform.providers.g5k",
    "G5kNetworkConf": "bedform.providers.g5k", "G5kHost": "bedform.providers.g5k",
    "G5kTunnel": "bedform.providers.g5k",
    "Engine": "bedform.planner.engine", "load_stack": "bedform.stack",
    "Providers": "bedform.api.providers", "find_slot": "bedform.api.providers",
    "find_slot_and_start": "bedform.api.providers",
    "start_provider_within_bounds": "bedform.api.providers",
}
_ERRORS = ("EnosError", "ConfigError", "ProviderError", "InvalidReservationTime",
           "InvalidReservationTooOld", "InvalidReservationCritical", "NoSlotError",
           "NegativeWalltime", "NotEnoughNodesError", "MissingNetworkError")
_EXPORTS.update(dict.fromkeys(_ERRORS, "bedform.errors"))

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bedform' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
