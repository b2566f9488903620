"""Fixtures: an IoT-LAB API emulator over real HTTP and a stack driven through the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bedform.cli import main
from bedform.emulators.iotlab import IotlabEmulator
from bedform.emulators.iotlab.testing import iotlab_emulator_factory  # noqa: F401
from bedform.state.store import StateStore

SITE = "grenoble"
M3 = "m3:at86rf231"
A8 = "a8:at86rf231"


def firmware(path: Path, text: str) -> Path:
    """A tiny ELF-looking firmware file whose content says `text`."""
    path.write_bytes(b"\x7fELF\x01\x01\x01" + text.encode() + b"\x00" * 16)
    return path


@pytest.fixture
def emu(iotlab_emulator_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
        ) -> IotlabEmulator:
    """A frozen emulator at the real current time, experiments running at once; the
    client (credentials, URL) points at it as alice, with a private HOME."""
    emulator = iotlab_emulator_factory(epoch=None, speed=0.0, launch_seconds=0.0)
    return point_client_at(emulator, tmp_path, monkeypatch)


def point_client_at(emulator: IotlabEmulator, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> IotlabEmulator:
    """Credentials and URL of the client pointing at `emulator` as alice, private HOME."""
    home = tmp_path / "home"
    home.mkdir()
    rc = emulator.write_rc(home / ".iotlabrc", "alice")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("IOTLAB_PASSWORD_FILE", str(rc))
    monkeypatch.setenv("IOTLAB_API_URL", emulator.url)
    return emulator


class IotlabStack:
    """A stack file with one `iot` provider section, driven through the CLI."""

    def __init__(self, root: Path, emu: IotlabEmulator) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        self.emu = emu
        self.fw_a = firmware(root / "fw-a.elf", "firmware A")

    def write(self, **section: Any) -> IotlabStack:
        doc = {"name": "iotexp", "providers": {"iot": {"type": "iotlab", **section}}}
        self.file.write_text(yaml.safe_dump(doc))
        return self

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["-c", str(self.file), *args])

    def apply(self, *args: str) -> Result:
        result = self.run("apply", "--auto-approve", *args)
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    def state(self):
        return StateStore(self.root / ".bedform").load()

    def posts(self) -> list[str]:
        return [r["path"] for r in self.emu.requests() if r["method"] in ("POST", "DELETE")]

    def flashes(self) -> list[str]:
        return [p for p in self.posts() if "/nodes/flash" in p]


@pytest.fixture
def stack(tmp_path: Path, emu: IotlabEmulator) -> IotlabStack:
    return IotlabStack(tmp_path / "stack", emu)


def section(image: Path | str, *, walltime: str = "01:00", **top: Any) -> dict[str, Any]:
    """3 m3 boards with a firmware and a radio profile, 1 a8, on grenoble."""
    return {"walltime": walltime, **top, "resources": {
        "machines": [{"roles": ["sensor"], "archi": M3, "site": SITE, "number": 3,
                      "image": str(image), "profile": "rssi"},
                     {"roles": ["linux"], "archi": A8, "site": SITE, "number": 1}],
        "networks": [{"id": "lan", "type": "prod", "roles": ["lan"], "site": SITE}]},
        "monitoring": {"profiles": [{"name": "rssi", "archi": "m3", "radio": {
            "mode": "rssi", "channels": [11, 26], "period": 100, "num_per_channel": 1}}]}}
