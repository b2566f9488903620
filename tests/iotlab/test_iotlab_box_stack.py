"""An IoT-LAB stack applied through the CLI against the emulator's box: 3 m3 boards
with firmware A and an A8 (its SSH readiness checked through the frontend); the serial
through `IotlabSerial` says firmware A, then B once the firmware file changes; the A8
answers SSH through the frontend with the generated ssh config; the sniffer's pcap file
and the serial log exist on the frontend."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from bedform.emulators.iotlab import IotlabEmulator
from bedform.emulators.iotlab.testing import iotlab_box_factory  # noqa: F401
from bedform.objects import roles_from_dict
from bedform.providers.iotlab import IotlabSensor, IotlabSerial, IotlabSniffer
from tests.iotlab.conftest import IotlabStack, firmware, point_client_at, section

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")]


@pytest.fixture
def box(iotlab_box_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
        ) -> IotlabEmulator:
    """A box over grenoble; the client points at it as alice, with the box's key for
    alice in an ssh-agent (what the provider's SSH checks and the tunnel use)."""
    emulator = iotlab_box_factory(users={"alice": "alice-pw"}, launch_seconds=0.0,
                                  box_sites=["grenoble"])
    assert emulator.box is not None
    point_client_at(emulator, tmp_path, monkeypatch)
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not socket_path.exists():
            assert time.monotonic() < deadline, "waited 10 s for ssh-agent's socket"
            time.sleep(0.02)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(socket_path))
        subprocess.run(["ssh-add", "-q", str(emulator.box.user_key("alice"))], check=True,
                       timeout=10)
        yield emulator
    finally:
        agent.kill()
        agent.wait(timeout=10)


def serial_says(sensor: IotlabSensor, frontend: str, seconds: float = 3.0) -> str:
    """What the board prints on its serial link within `seconds` (IotlabSerial)."""
    text = ""
    with IotlabSerial(sensor, interactive=True, timeout=0.5, frontend=frontend) as serial:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and text.count("\n") < 2:
            text += serial.read()
    return text


def wait_for(what: str, check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.2)
    return value


def test_stack_on_the_box_serial_firmware_change_ssh_and_sniffer(box: IotlabEmulator,
                                                                   tmp_path: Path):
    assert box.box is not None
    frontend = box.box.frontends["grenoble"]
    stack = IotlabStack(tmp_path / "stack", box)
    stack.write(**section(stack.fw_a, frontend={"grenoble": frontend}, wait_ssh=True))
    stack.apply()
    state = stack.state()
    assert state.resources["iot.boot[1]"].attributes["ssh_checked"] is True
    roles = roles_from_dict(state.outputs["roles"])
    sensors = sorted(roles["sensor"], key=lambda s: s.address)
    assert len(sensors) == 3 and all(isinstance(s, IotlabSensor) for s in sensors)

    # serial through an SSH tunnel via the frontend: firmware A, and the echo
    assert "fw-a.elf #" in serial_says(sensors[0], frontend)
    with IotlabSerial(sensors[1], interactive=True, timeout=0.5,
                      frontend=frontend) as serial:
        serial.write("hello board\n")
        echoed = wait_for("the echo", lambda: (text := serial.read()) and
                          "echo: hello board" in text and text)
    assert "echo: hello board" in echoed

    # the firmware file changes: only its group is flashed, the serial says B
    firmware(stack.fw_a, "firmware B")
    Path(stack.fw_a).rename(stack.root / "fw-b.elf")
    stack.write(**section(stack.root / "fw-b.elf", frontend={"grenoble": frontend},
                          wait_ssh=True))
    box.clear_requests()
    stack.apply()
    assert len(stack.flashes()) == 1
    for sensor in sensors:
        assert "fw-b.elf #" in serial_says(sensor, frontend)

    # the A8 through the frontend with the generated ssh config (agent for the keys)
    config = tmp_path / "ssh_config"
    generated = stack.run("output", "--format", "ssh-config")
    assert generated.exit_code == 0, generated.output
    config.write_text(generated.output + "\nHost *\n  StrictHostKeyChecking no\n"
                      "  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n")
    a8 = roles["linux"][0]
    done = subprocess.run(["ssh", "-F", str(config), a8.alias, "hostname"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == a8.address.split(".")[0]

    # logging serial and the sniffer write their files on the frontend
    exp_id = sensors[0].experiment
    home = box.box.home("grenoble", "alice") / ".iot-lab" / str(exp_id)
    with IotlabSerial(sensors[2], frontend=frontend):
        log = home / "log" / f"{sensors[2].alias}_serial.log"
        wait_for("the serial log", lambda: "fw-b.elf #" in (
            log.read_text() if log.exists() else ""))
    with IotlabSniffer(sensors[0], frontend=frontend):
        pcap = home / "sniffer" / f"{sensors[0].alias}.pcap"
        wait_for("the pcap file", lambda: pcap.exists() and pcap.stat().st_size >= 24)
    assert pcap.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    time.sleep(0.5)
    assert "aggregator" not in subprocess.run(  # both stopped on the way out
        ["ssh", "-F", str(config), f"alice@{frontend}", "pgrep -u alice -af '[a]ggregator'"],
        capture_output=True, text=True, timeout=30, check=False).stdout
    stack.run("destroy", "--auto-approve")
