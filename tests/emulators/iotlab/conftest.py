"""Fixtures for the IoT-LAB emulator tests: the emulator and firmware files."""

from pathlib import Path

import pytest

from bedform.emulators.iotlab.testing import (  # noqa: F401
    iotlab_api,
    iotlab_emulator,
    iotlab_emulator_factory,
    iotlab_env,
)

HEX_IMAGE = b":10010000214601360121470136007EFE09D2190140\n:00000001FF\n"


@pytest.fixture
def firmwares(tmp_path: Path) -> dict[str, Path]:
    """Two ELF images, an Intel HEX and a raw binary, with distinct contents."""
    files = {
        "a": ("fw_a.elf", b"\x7fELF\x01\x01\x01 firmware A"),
        "b": ("fw_b.elf", b"\x7fELF\x01\x01\x01 firmware B"),
        "hex": ("fw.hex", HEX_IMAGE),
        "bin": ("fw.bin", b"\x00\x20\x00\x20 raw image"),
    }
    paths = {}
    for key, (name, content) in files.items():
        path = tmp_path / "firmware" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        paths[key] = path
    return paths
