"""What runs on each board: firmware, power, resets, monitoring profile.

The emulator records every flash (file name, sha256, size, experiment) so
the effect of a firmware is observable from outside (``/_emulator/boards``),
and answers node commands board by board with the API's OK/KO lists,
honouring the ``node_ko`` faults.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from .inventory import Board

#: Node commands answered with a per-board OK/KO list.
COMMANDS = ("start", "stop", "reset", "debug-start", "debug-stop", "profile-reset",
            "flash-idle", "flash", "monitoring")  # fmt: skip
FIRMWARE_SUFFIXES = (".elf", ".hex", ".bin")
_HEX_LINE = re.compile(rb"^:[0-9A-Fa-f]{10,}$")


class FirmwareError(ValueError):
    """A firmware file the testbed would not flash (bad name or content)."""


def check_firmware(name: str, content: bytes) -> None:
    """Refuse what the real flasher would: unknown suffix, not ELF, not Intel HEX, empty."""
    lowered = name.lower()
    if not lowered.endswith(FIRMWARE_SUFFIXES):
        raise FirmwareError(f"firmware {name!r}: the name must end with .elf, .hex or .bin")
    if not content:
        raise FirmwareError(f"firmware {name!r} is empty")
    if lowered.endswith(".elf") and not content.startswith(b"\x7fELF"):
        raise FirmwareError(f"firmware {name!r} is not an ELF file (no \\x7fELF header)")
    if lowered.endswith(".hex"):
        lines = [line.strip() for line in content.splitlines() if line.strip()]
        if not lines or not all(_HEX_LINE.match(line) for line in lines):
            raise FirmwareError(f"firmware {name!r} is not an Intel HEX file")


@dataclass
class FirmwareRecord:
    """A firmware flashed on a board."""

    name: str
    sha256: str
    size: int
    experiment: int
    flashed_at: float
    content: bytes = field(repr=False)

    @classmethod
    def of(cls, name: str, content: bytes, experiment: int, now: float) -> FirmwareRecord:
        """Record ``content`` flashed under ``name``."""
        digest = hashlib.sha256(content).hexdigest()
        return cls(name, digest, len(content), experiment, now, content)

    def view(self) -> dict[str, Any]:
        """JSON view (without the content)."""
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "experiment": self.experiment,
            "flashed_at": self.flashed_at,
        }


@dataclass
class BoardRuntime:
    """The state of one board as its experiment changes it."""

    firmware: FirmwareRecord | None = None
    powered: bool = True
    resets: int = 0
    flashes: int = 0
    debug: bool = False
    profile: str | None = None
    experiment: int | None = None

    def view(self) -> dict[str, Any]:
        """JSON view."""
        return {
            "firmware": self.firmware.view() if self.firmware else None,
            "powered": self.powered,
            "resets": self.resets,
            "flashes": self.flashes,
            "debug": self.debug,
            "profile": self.profile,
            "experiment": self.experiment,
        }


@dataclass
class NodeFault:
    """Boards that answer KO to a command (``count`` commands, or for ever)."""

    uid: int
    command: str
    nodes: set[str]
    count: int | None

    def view(self) -> dict[str, Any]:
        """JSON view."""
        return {"uid": self.uid, "kind": "node_ko", "command": self.command,
                "nodes": sorted(self.nodes), "count": self.count}  # fmt: skip


@dataclass
class Action:
    """A node command to apply: its name and what it carries."""

    command: str
    experiment: int
    now: float
    firmware: tuple[str, bytes] | None = None
    profile: str | None = None
    #: A profile sent with the command (profile-load) rather than one stored by name.
    inline_profile: dict[str, Any] | None = None


def apply_action(board: Board, runtime: BoardRuntime, action: Action) -> bool:
    """Apply one command to one (healthy) board; ``False`` when the board refuses it."""
    command = action.command
    if command == "flash":
        if board.linux or action.firmware is None:
            return False
        name, content = action.firmware
        runtime.firmware = FirmwareRecord.of(name, content, action.experiment, action.now)
        runtime.flashes += 1
        runtime.powered = True
    elif command == "flash-idle":
        if board.linux:
            return False
        runtime.firmware = None
    elif command == "start":
        runtime.powered = True
    elif command == "stop":
        runtime.powered = False
    elif command == "reset":
        if not runtime.powered:
            return False
        runtime.resets += 1
    elif command in ("debug-start", "debug-stop"):
        if board.linux:
            return False
        runtime.debug = command == "debug-start"
    elif command == "profile-reset":
        runtime.profile = None
    elif command == "monitoring":
        runtime.profile = action.profile
    return True
