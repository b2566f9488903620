"""The unmodified ``iotlab-*`` commands, and ``bedform emulate iotlab``, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from bedform.emulators.iotlab import IotlabEmulator

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
G = "grenoble.iot-lab.info"


def _cli(env: dict[str, str], *args: str, cwd: Path | None = None, ok: bool = True) -> Any:
    done = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, cwd=cwd, timeout=60,
                          capture_output=True, text=True)  # fmt: skip
    if ok:
        assert done.returncode == 0, f"{args}: {done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else None
    assert done.returncode != 0, f"{args} should have failed: {done.stdout}"
    return done.stderr


def test_cli_full_experiment(iotlab_env, iotlab_emulator: IotlabEmulator, firmwares, tmp_path):
    env = iotlab_env
    rc = Path(env["IOTLAB_PASSWORD_FILE"])
    rc.unlink()
    _cli(env, "iotlab-auth", "-u", "alice", "-p", "alice-pw")
    assert rc.read_text() == "alice:" + base64.b64encode(b"alice-pw").decode()
    assert "Wrong login:password" in _cli(env, "iotlab-auth", "-u", "alice", "-p", "no", ok=False)

    profile = _cli(env, "iotlab-profile", "addm3", "-n", "conso", "-current", "-voltage",
                   "-period", "140", "-avg", "16")  # fmt: skip
    assert profile["consumption"]["period"] == 140
    listed = _cli(env, "iotlab-profile", "get", "-l")
    assert [p["profilename"] for p in listed] == ["conso"]

    work = firmwares["a"].parent
    submitted = _cli(env, "iotlab-experiment", "submit", "-n", "cli", "-d", "20",
                     "-l", "3,archi=m3:at86rf231+site=grenoble,fw_a.elf,conso", cwd=work)
    exp_id = submitted["id"]
    state = _cli(env, "iotlab-experiment", "wait", "-i", str(exp_id), "--step", "1",
                 "--timeout", "30")  # fmt: skip
    assert state == "Running"
    nodes = _cli(env, "iotlab-experiment", "get", "-i", str(exp_id), "-n")["items"]
    names = [n["network_address"] for n in nodes]
    assert names == [f"m3-{i}.{G}" for i in (1, 2, 3)]
    assert _cli(env, "iotlab-experiment", "get", "-i", str(exp_id), "-ni")["items"][0][
        "archis"][0]["states"] == [{"state": "Busy", "ids": "1-3"}]  # fmt: skip

    flashed = _cli(env, "iotlab-node", "-i", str(exp_id), "--flash", str(firmwares["b"]),
                   "-l", "grenoble,m3,1-2")  # fmt: skip
    assert flashed == {"0": names[:2], "1": []}
    sha_b = hashlib.sha256(firmwares["b"].read_bytes()).hexdigest()
    sha_a = hashlib.sha256(firmwares["a"].read_bytes()).hexdigest()
    records = iotlab_emulator.firmware()
    assert [records[n]["sha256"] for n in names] == [sha_b, sha_b, sha_a]

    assert _cli(env, "iotlab-node", "-i", str(exp_id), "--reset") == {"0": names, "1": []}
    assert _cli(env, "iotlab-node", "-i", str(exp_id), "--profile-reset", "-e",
                "grenoble,m3,3") == {"0": names[:2], "1": []}  # fmt: skip
    assert iotlab_emulator.boards()[names[2]]["profile"] == "conso"
    profile_file = tmp_path / "radio.json"
    profile_file.write_text(json.dumps({"profilename": "radio", "nodearch": "m3", "power": "dc",
                                        "radio": {"mode": "sniffer", "channels": [15]}}))
    loaded = _cli(env, "iotlab-node", "-i", str(exp_id), "--profile-load", str(profile_file),
                  "-l", "grenoble,m3,1")  # fmt: skip
    assert loaded == {"0": [names[0]], "1": []}
    assert iotlab_emulator.boards()[names[0]]["profile"] == "radio"

    status = _cli(env, "iotlab-status", "--nodes", "--site", "grenoble", "--state", "Busy")
    assert [n["network_address"] for n in status["items"]] == names
    assert [s["site"] for s in _cli(env, "iotlab-status", "--sites")["items"]] == [
        "grenoble", "lille", "saclay"]  # fmt: skip

    _cli(env, "iotlab-experiment", "get", "-i", str(exp_id), "-a", cwd=tmp_path)
    with tarfile.open(tmp_path / f"{exp_id}.tar.gz") as archive:
        assert f"{exp_id}/fw_a.elf" in archive.getnames()

    assert _cli(env, "iotlab-experiment", "stop", "-i", str(exp_id))["id"] == exp_id
    described = _cli(env, "iotlab-experiment", "get", "-i", str(exp_id), "-p")
    assert described["state"] == "Terminated"
    assert "This job was already killed" in _cli(
        env, "iotlab-experiment", "stop", "-i", str(exp_id), ok=False)
    listed = _cli(env, "iotlab-experiment", "get", "-l", "--state", "Terminated")["items"]
    assert [e["id"] for e in listed] == [exp_id]
    _cli(env, "iotlab-profile", "del", "-n", "conso")
    assert _cli(env, "iotlab-profile", "get", "-l") == []


def test_cli_refusal_message(iotlab_env, iotlab_emulator: IotlabEmulator):
    env = iotlab_env
    _cli(env, "iotlab-experiment", "submit", "-n", "all", "-d", "60",
         "-l", "grenoble,a8,1-8")  # fmt: skip
    start = int(iotlab_emulator.now()) + 60
    error = _cli(env, "iotlab-experiment", "submit", "-n", "late", "-d", "10", "-r", str(start),
                 "-l", "1,archi=a8:at86rf231+site=grenoble", ok=False)  # fmt: skip
    assert "Reservation not valid --> KO (This reservation could run at 2026-04-01 13:00:00)" in (
        error)


def test_emulate_iotlab_command(tmp_path: Path) -> None:
    rc = tmp_path / "rc"
    seen: list[str] = []
    process = subprocess.Popen(
        [sys.executable, "-m", "bedform.cli", "emulate", "iotlab", "--user", "carol:secret",
         "--speed", "60", "--write-config", str(rc)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not rc.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rc.read_text() == "carol:" + base64.b64encode(b"secret").decode()
        while "Press Ctrl-C" not in "".join(seen) and time.monotonic() < deadline:
            seen.append(process.stdout.readline())
        url = next(line for line in seen if "listening on" in line).rsplit(" ", 1)[-1].strip()
        env = {**os.environ, "IOTLAB_API_URL": url, "IOTLAB_PASSWORD_FILE": str(rc),
               "HOME": str(tmp_path)}  # fmt: skip
        assert _cli(env, "iotlab-status", "--nodes", "--site", "lille", "--archi", "rpi3")[
            "items"][0]["network_address"] == "rpi3-1.lille.iot-lab.info"  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
    output = "".join(seen) + rest
    assert f"export IOTLAB_PASSWORD_FILE={rc}" in output
    assert "Emulator stopped." in output
