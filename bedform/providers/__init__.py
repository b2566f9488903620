"""Testbed drivers, looked up by the `type` of a provider section (see registry.py)."""

from __future__ import annotations

from bedform.providers.registry import driver_class, known_types, register_driver

__all__ = ["driver_class", "known_types", "register_driver"]
