"""bedform: plan and apply experiment infrastructure on research testbeds.

The public API is importable from here, as in EnOSlib (`from bedform import G5k, Roles`);
each name is loaded on first use, so `import bedform` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "__version__": "bedform.version",
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
    "Iotlab": "bedform.api.iotlab", "IotlabConf": "bedform.providers.iotlab",
    "IotlabHost": "bedform.providers.iotlab", "IotlabSensor": "bedform.providers.iotlab",
    "IotlabNetwork": "bedform.providers.iotlab", "IotlabSerial": "bedform.providers.iotlab",
    "IotlabSniffer": "bedform.providers.iotlab",
    "Openstack": "bedform.api.openstack", "OpenstackConf": "bedform.providers.openstack",
    "OpenstackMachineConf": "bedform.providers.openstack",
    "ChameleonKVM": "bedform.api.chameleon", "ChameleonBaremetal": "bedform.api.chameleon",
    "CKVM": "bedform.api.chameleon", "CBM": "bedform.api.chameleon",
    "CKVMConf": "bedform.api.chameleon", "CBMConf": "bedform.api.chameleon",
    "CKVMMachineConf": "bedform.api.chameleon", "CBMMachineConf": "bedform.api.chameleon",
    "ChameleonKvmConf": "bedform.providers.chameleon",
    "ChameleonBaremetalConf": "bedform.providers.chameleon",
    "VMonG5k": "bedform.api.vmong5k", "VMonG5kConf": "bedform.providers.vmong5k",
    "Distem": "bedform.api.distem", "DistemConf": "bedform.providers.distem",
    "DistemMachineConf": "bedform.providers.distem",
    "Vagrant": "bedform.api.vagrant", "VagrantConf": "bedform.providers.vagrant",
    "VagrantMachineConf": "bedform.providers.vagrant",
    "VagrantMachineMachineConf": "bedform.providers.vagrant",
    "VagrantNetworkConf": "bedform.providers.vagrant",
    "Engine": "bedform.planner.engine", "load_stack": "bedform.stack",
    "Providers": "bedform.api.providers", "find_slot": "bedform.api.providers",
    "find_slot_and_start": "bedform.api.providers",
    "start_provider_within_bounds": "bedform.api.providers",
    "check": "bedform.providers.checks",
}
_TASKS = ("init_logging", "run_command", "run", "sync_info", "get_hosts", "Results",
          "CommandResult", "STATUS_OK", "STATUS_FAILED", "STATUS_UNREACHABLE",
          "STATUS_SKIPPED")
_EXPORTS.update(dict.fromkeys(_TASKS, "bedform.tasks"))
_ERRORS = ("EnosError", "EnosFailedHostsError", "EnosUnreachableHostsError", "ConfigError",
           "ProviderError", "InvalidReservationTime",
           "InvalidReservationTooOld", "InvalidReservationCritical", "NoSlotError",
           "NegativeWalltime", "NotEnoughNodesError", "MissingNetworkError")
_EXPORTS.update(dict.fromkeys(_ERRORS, "bedform.errors"))

__all__ = sorted(name for name in _EXPORTS if not name.startswith("_"))


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bedform' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
