"""`bedform emulate g5k`: serves the API, writes a client configuration, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from grid5000 import Grid5000

REPO = Path(__file__).resolve().parents[2]


def test_emulate_g5k_serves_python_grid5000(tmp_path: Path) -> None:
    config = tmp_path / "g5k.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "bedform.cli", "emulate", "g5k", "--user", "carol:secret",
         "--write-config", str(config)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not config.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        settings = yaml.safe_load(config.read_text())
        assert settings["username"] == "carol" and settings["password"] == "secret"
        assert settings["uri"].startswith("http://127.0.0.1:")
        client = Grid5000(**settings)
        assert len(client.sites.list()) == 12
        job = client.sites["rennes"].jobs.create(
            {"name": "probe", "resources": "nodes=1", "command": "sleep 60"})
        assert client.sites["rennes"].jobs[job.uid].user == "carol"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert f"export BEDFORM_G5K_CONFIG={config}" in output
    assert "Emulator stopped." in output
