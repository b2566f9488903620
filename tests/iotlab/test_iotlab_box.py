"""IoT-LAB in a box, driven by the unmodified iotlabcli: SSH frontends with the
aggregation tools, serial consoles that follow flash and reset, Linux boards as SSH
hosts behind their frontend, clean teardown."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from iotlabcli import experiment, node, rest

from bedform import machines
from bedform.emulators.g5k.box.hosts import UTS_DIR
from bedform.emulators.iotlab import IotlabEmulator
from bedform.emulators.iotlab.box import purge
from bedform.emulators.iotlab.testing import iotlab_box_factory  # noqa: F401
from tests.iotlab.conftest import firmware

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root")]


def ssh_config(path: Path, key: Path) -> Path:
    path.write_text(f"Host *\n  IdentityFile {key}\n  IdentitiesOnly yes\n"
                    "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
                    "  BatchMode yes\n  LogLevel ERROR\n  ConnectTimeout 10\n")
    return path


def ssh(config: Path, *args: str, timeout: float = 30) -> str:
    """Run ssh with `config`; the output (fails the test on a non-zero exit)."""
    done = subprocess.run(["ssh", "-F", str(config), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"ssh {args} exited {done.returncode}: {done.stderr}"
    return done.stdout


def wait_for(what: str, check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.1)


@pytest.fixture
def box(iotlab_box_factory) -> IotlabEmulator:  # noqa: F811
    return iotlab_box_factory(users={"alice": "alice-pw"}, launch_seconds=0.0,
                              box_sites=["grenoble"])


def serial_lines(config: Path, frontend: str, board: str, seconds: float) -> list[str]:
    """What `serial_aggregator` on the frontend prints for `board` in `seconds`."""
    out = subprocess.run(["ssh", "-F", str(config), f"alice@{frontend}",
                          f"timeout {seconds} serial_aggregator -l {board}"],
                         capture_output=True, text=True, timeout=30, check=False).stdout
    return [line.split(";", 2)[2] for line in out.splitlines() if line.count(";") >= 2]


def test_box_frontend_consoles_and_linux_boards(box: IotlabEmulator, tmp_path: Path):
    assert box.box is not None
    api = rest.Api("alice", "alice-pw")
    api.url = box.url
    fw_a = firmware(tmp_path / "fw-a.elf", "A")
    fw_b = firmware(tmp_path / "fw-b.elf", "B")
    resources = [
        experiment.exp_resources(experiment.AliasNodes(2, "grenoble", "m3:at86rf231",
                                                       False), str(fw_a)),
        experiment.exp_resources(experiment.AliasNodes(1, "grenoble", "a8:at86rf231",
                                                       False))]
    exp_id = experiment.submit_experiment(api, "boxed", 10, resources)["id"]
    nodes = experiment.get_experiment(api, exp_id, "nodes")["items"]
    m3 = sorted(n["network_address"] for n in nodes if n["archi"].startswith("m3"))
    a8 = next(n["network_address"] for n in nodes if n["archi"].startswith("a8"))
    config = ssh_config(tmp_path / "ssh_config", box.box.user_key("alice"))
    frontend = box.box.frontends["grenoble"]

    # the frontend: a real SSH host with the experiment's directory
    assert ssh(config, f"alice@{frontend}", "hostname; ls ~/.iot-lab/" + str(exp_id)
               ).split() == ["grenoble", "consumption", "event", "log", "radio", "sniffer"]
    # consoles say the flashed firmware; a flash changes it, a reset restarts the count
    lines = serial_lines(config, frontend, m3[0], 1.6)
    assert lines and all(line.startswith("fw-a.elf #") for line in lines), lines
    node.node_command(api, "flash", exp_id, [m3[0]], str(fw_b))
    lines = wait_for("firmware B on the serial", lambda: serial_lines(
        config, frontend, m3[0], 1.2))
    assert lines[0].startswith("fw-b.elf #"), lines
    time.sleep(1.5)
    before = int(serial_lines(config, frontend, m3[0], 0.8)[0].split("#")[1])
    node.node_command(api, "reset", exp_id, [m3[0]])
    after = int(serial_lines(config, frontend, m3[0], 0.8)[0].split("#")[1])
    assert after < before, (before, after)
    other = serial_lines(config, frontend, m3[1], 1.2)
    assert other and other[0].startswith("fw-a.elf #"), other
    # writing to a console echoes; the sniffer writes a pcap file
    echoed = ssh(config, f"alice@{frontend}",
                 f"(sleep 0.5; echo ping-{m3[1].split('.')[0]}) | "
                 f"timeout 1.5 serial_aggregator -l {m3[1]} | grep echo", timeout=30)
    assert f"echo: ping-{m3[1].split('.')[0]}" in echoed
    pcap = f"~/.iot-lab/{exp_id}/sniffer/m3.pcap"
    ssh(config, f"alice@{frontend}", f"timeout -s TERM 1 sniffer_aggregator -l "
        f"grenoble,m3,{m3[0].split('.')[0][3:]} -o {pcap}; test -s {pcap}")
    assert box.box.home("grenoble", "alice").joinpath(
        f".iot-lab/{exp_id}/sniffer/m3.pcap").read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    # the A8 board: root over SSH through the frontend
    assert ssh(config, "-J", f"alice@{frontend}", f"root@node-{a8}", "hostname"
               ).strip() == f"node-{a8.split('.')[0]}"
    # the end of the experiment takes the hosts away
    experiment.stop_experiment(api, exp_id)
    view = wait_for("the hosts to go", lambda: (v := box.box.view()) and not v["nodes"]
                    and not v["consoles"] and v)
    assert view["last_error"] is None
    refused = subprocess.run(["ssh", "-F", str(config), f"alice@{frontend}",
                              f"timeout 2 serial_aggregator -l {m3[0]}"],
                             capture_output=True, text=True, timeout=30, check=False)
    assert refused.returncode != 0 and "cannot connect" in refused.stderr


def test_box_start_purges_what_a_killed_box_left(iotlab_box_factory):  # noqa: F811
    box_id = f"k{secrets.token_hex(3)}"
    killed = IotlabEmulator(users={"alice": "a"}, box=True, box_id=box_id,
                            box_sites=["lille"]).start()
    try:
        assert killed.box is not None
        killed._server.stop()
        killed.box._stop.set()  # as after SIGKILL: its hosts and processes stay
        left = machines.leftovers(f"iotbox-{box_id}-", f"ib{box_id}", UTS_DIR)
        assert left["namespaces"] and left["processes"] and left["links"]
        again = iotlab_box_factory(users={"alice": "a"}, box_id=box_id, box_sites=["lille"])
        assert again.box is not None and again.box.view()["frontends"]["lille"]
    finally:
        purge(box_id)


def test_emulate_iotlab_box_command(tmp_path: Path):
    """`bedform emulate iotlab --box` prints the frontends, which answer SSH with the
    user's key; SIGTERM tears the box down."""
    box_id = f"c{secrets.token_hex(3)}"
    log = tmp_path / "emulate.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bedform.cli", "emulate", "iotlab", "--box",
             "--box-id", box_id, "--write-config", str(tmp_path / "iotlabrc")],
            stdout=output, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        text = wait_for("the emulator's banner", lambda: "Press Ctrl-C" in (
            t := log.read_text()) and t, timeout=60)
        lille = next(line.split()[-1] for line in text.splitlines()
                     if "lille.iot-lab.info:" in line)
        key = Path(f"/run/bedform/iotbox-{box_id}-box/keys/alice")
        assert str(key.parent) in text
        config = ssh_config(tmp_path / "ssh_config", key)
        assert ssh(config, f"alice@{lille}", "hostname").strip() == "lille"
    finally:
        process.terminate()
        process.wait(timeout=30)
        left = purge(box_id)
    assert "Emulator stopped." in log.read_text()
    assert not any(left.values()), left
