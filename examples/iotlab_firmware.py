#!/usr/bin/env python3
"""Write tiny test firmware files for the IoT-LAB examples and the emulator.

    python examples/iotlab_firmware.py firmware/fw-a.elf "firmware A"

Each file is a minimal 32-bit little-endian ARM ELF header (what the testbed's flasher
and the emulator check) followed by the given text, so two texts give two different
sha256 content hashes: changing the text of a group's file is what makes bedform flash
that group again.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

EM_ARM = 40
ET_EXEC = 2
HEADER_SIZE = 52


def elf_firmware(text: str) -> bytes:
    """An ELF32 header (no sections, no program headers) and `text` after it."""
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)   # 32-bit, little-endian, v1
    header = ident + struct.pack("<HHIIIIIHHHHHH", ET_EXEC, EM_ARM, 1, 0, 0, 0, 0,
                                 HEADER_SIZE, 0, 0, 0, 0, 0)
    return header + text.encode() + b"\n"


def write(path: str | Path, text: str) -> Path:
    """Write the firmware of `text` at `path` (parents created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(elf_firmware(text))
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(write(sys.argv[1], sys.argv[2]))
