"""What a new user reads from a G5k stack (issue 17, item 10): the missing-key error
says how to make a key; an emulator over plain HTTP prints no TLS warning."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.g5k.conftest import G5kStack

DEPLOY = {"job_type": "deploy", "env_name": "debian12-min", "walltime": "01:00:00",
          "resources": {"machines": [{"roles": ["a"], "cluster": "parasilo", "nodes": 1}]}}


def test_no_public_key_says_how_to_make_one(stack: G5kStack, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    document = yaml.safe_load(stack.write(**DEPLOY).file.read_text())
    del document["providers"]["g5k"]["key"]
    stack.file.write_text(yaml.safe_dump(document))
    result = stack.run("validate")
    assert result.exit_code == 1
    assert "providers.g5k.key: no public key to deploy with" in result.output
    assert "ssh-keygen -t ed25519 -f ~/.ssh/id_ed25519" in result.output
    stack.write(**DEPLOY, key=str(tmp_path / "absent.pub"))
    result = stack.run("validate")
    assert f"ssh-keygen -t ed25519 -f {tmp_path / 'absent'}`" in result.output


def test_plain_http_prints_no_tls_warning(stack: G5kStack) -> None:
    assert "verify_ssl: false" in Path(stack.emu.write_client_config(
        stack.root / "check.yaml", "alice")).read_text()
    result = stack.write(**DEPLOY).run("plan")
    assert result.exit_code == 0, result.output
    assert "Unverified HTTPS" not in result.output
