"""FIT IoT-LAB REST API emulator.

Follows the real API closely enough that iotlabcli 3.3.x (its library and its
``iotlab-*`` commands, and so EnOSlib) works against it unchanged:
experiments on a virtual clock over an inventory of boards, node commands
with per-board results and recorded firmware, monitoring profiles, testbed
views, plus ``/_emulator/`` control endpoints (clock, request log, faults,
boards, reset). See docs/emulators.md.
"""

from .inventory import DEFAULT_LAYOUT, Inventory
from .server import DEFAULT_USERS, IotlabEmulator, run_cli

__all__ = ["DEFAULT_LAYOUT", "DEFAULT_USERS", "Inventory", "IotlabEmulator", "run_cli"]
