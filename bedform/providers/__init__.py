"""Testbed drivers, looked up by the `type` of a provider section."""

from __future__ import annotations

import importlib

from bedform.errors import ConfigError
from bedform.providers.base import Driver

DRIVERS: dict[str, str] = {
    "local": "bedform.providers.local.driver:LocalDriver",
    "g5k": "bedform.providers.g5k.driver:G5kDriver",
    "iotlab": "bedform.providers.iotlab.driver:IotlabDriver",
}


def driver_class(type_name: str) -> type[Driver]:
    """The driver class for a provider type; imported only when first needed."""
    try:
        target = DRIVERS[type_name]
    except KeyError:
        known = ", ".join(sorted(DRIVERS))
        raise ConfigError(
            f"unknown provider type {type_name!r}",
            ("type",),
            hint=f"Use one of: {known}.",
        ) from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)
