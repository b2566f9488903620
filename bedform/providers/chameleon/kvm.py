"""The `chameleonkvm` driver: the OpenStack driver with Chameleon's defaults (EnOSlib's
`enos_chameleonkvm`); kinds, refresh, inventory and destroy are the OpenStack ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bedform.providers.chameleon.config import KVM_SCHEMA, ChameleonKvmConf
from bedform.providers.openstack.driver import OpenstackDriver


class ChameleonKvmDriver(OpenstackDriver):
    """Driver of `type: chameleonkvm` sections."""

    type_name = "chameleonkvm"

    @classmethod
    def schema(cls) -> dict[str, Any]:
        return KVM_SCHEMA

    @classmethod
    def load_config(cls, section: Mapping[str, Any]) -> ChameleonKvmConf:
        return ChameleonKvmConf.from_dictionary(section)
