"""Grid'5000 REST API (v3, "stable") emulator.

Follows the real API closely enough that python-grid5000 1.2.x (and so EnOSlib
and bedform's G5k provider) work against it unchanged: reference data, status,
OAR jobs on a virtual clock, kadeploy, KaVLAN, subnets, firewall and storage,
plus ``/_emulator/`` control endpoints (clock, request log, faults, reset).
See docs/emulators.md.
"""

from .reference import ReferenceData
from .server import DEFAULT_ADMINS, DEFAULT_USERS, G5kEmulator, run_cli

__all__ = ["DEFAULT_ADMINS", "DEFAULT_USERS", "G5kEmulator", "ReferenceData", "run_cli"]
