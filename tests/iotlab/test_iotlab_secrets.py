"""The IoT-LAB password (from the iotlabcli rc file) appears in no output, no state file,
no saved plan and no error, nor does its HTTP Basic form."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bedform.cli import main
from tests.iotlab.conftest import IotlabStack, section

REPO = Path(__file__).resolve().parents[2]
USER = "alice"
PASSWORD = "Io7-s3cr3t-PaSSw0rd-frobozz"
WRONG = "Wr0ng-iotlab-guess-xyzzy-77"


def forms(secret: str) -> list[str]:
    basic = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    encoded = base64.b64encode(secret.encode()).decode()   # as in the rc file
    return [secret, basic, basic.rstrip("="), encoded, encoded.rstrip("=")]


def assert_clean(text: str, where: str, secret: str = PASSWORD) -> None:
    for form in forms(secret):
        assert form not in text, f"the password leaks into {where}"


@pytest.fixture
def secret_stack(iotlab_emulator_factory, tmp_path, monkeypatch):
    emu = iotlab_emulator_factory(users={USER: PASSWORD}, epoch=None, speed=0.0,
                                  launch_seconds=0.0)
    home = tmp_path / "home"
    home.mkdir()
    rc = emu.write_rc(home / ".iotlabrc", USER)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("IOTLAB_PASSWORD_FILE", raising=False)   # ~/.iotlabrc is read
    monkeypatch.setenv("IOTLAB_API_URL", emu.url)
    stack = IotlabStack(tmp_path / "stack", emu)
    stack.write(**section(stack.fw_a))
    return stack, rc


def cli(stack: IotlabStack, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    result = CliRunner().invoke(main, ["-c", str(stack.file), *args])
    assert result.exit_code in ok, result.output + repr(result.exception)
    return result.output


def test_the_password_appears_in_no_output_and_no_file(secret_stack, tmp_path):
    stack, _ = secret_stack
    saved = tmp_path / "saved.plan"
    outputs = {
        "plan --json": cli(stack, "plan", "--json"),
        "plan --out": cli(stack, "plan", "--out", str(saved)),
        "show PLANFILE": cli(stack, "show", str(saved)),
        "apply PLANFILE --json": cli(stack, "apply", "--json", str(saved)),
        "--debug apply": cli(stack, "--debug", "apply", "--auto-approve"),
        "show --json": cli(stack, "show", "--json"),
        "output": cli(stack, "output"),
        "state show": cli(stack, "state", "show", "iot.experiment"),
        "refresh": cli(stack, "refresh"),
        "destroy": cli(stack, "destroy", "--auto-approve"),
    }
    for where, output in outputs.items():
        assert_clean(output, where)
    files = [p for p in (stack.root / ".bedform").rglob("*") if p.is_file()] + [saved]
    for path in files:
        assert_clean(path.read_text(errors="replace"), str(path))


def test_a_wrong_password_is_not_echoed(secret_stack):
    stack, rc = secret_stack
    cli(stack, "apply", "--auto-approve")
    rc.write_text(f"{USER}:{base64.b64encode(WRONG.encode()).decode()}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for args in (("plan",), ("--debug", "plan"), ("destroy", "--auto-approve")):
        proc = subprocess.run([sys.executable, "-m", "bedform.cli", "-c", str(stack.file),
                               *args], cwd=REPO, capture_output=True, text=True,
                              check=False, env=env)
        text = proc.stdout + proc.stderr
        assert proc.returncode == 1, text
        assert "401" in text, text
        assert_clean(text, f"the error of `{' '.join(args)}`", WRONG)
        assert_clean(text, f"the error of `{' '.join(args)}`", PASSWORD)


def test_missing_credentials_say_how_to_fix(secret_stack, monkeypatch, tmp_path):
    stack, _ = secret_stack
    monkeypatch.setenv("IOTLAB_PASSWORD_FILE", str(tmp_path / "absent"))
    out = cli(stack, "plan", ok=(1,))
    assert "IoT-LAB credentials file" in out and "iotlab-auth" in out, out

