"""Secrets never leak, and what bedform writes is private.

The G5k emulator user's password lives only in the python-grid5000 YAML config
(BEDFORM_G5K_CONFIG). It must appear in no file under the state directory (state,
backups, lock info, per-provider files), in no saved plan, and in no output: plan
(human and --json), apply --json event lines, show, output (every format), state
list/show, refresh, destroy, --debug runs, nor in the error of a wrong password (401).
Neither may its HTTP Basic form (base64 of user:password).

State files and backups are mode 0600 and their directories 0700, even under umask 000;
so are the local provider's private keys (root only).
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bedform.cli import main
from bedform.emulators.g5k import G5kEmulator
from tests.local.conftest import local_stack, root_only  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
USER = "alice"
PASSWORD = "Zq9-s3cr3t-PaSSw0rd-xyzzy"
WRONG = "Wr0ng-guess-Pw-plugh-4242"


def forms(secret: str) -> list[str]:
    """The secret and its HTTP Basic encodings."""
    basic = base64.b64encode(f"{USER}:{secret}".encode()).decode()
    return [secret, basic, basic.rstrip("=")]


def assert_clean(text: str, where: str, secret: str = PASSWORD) -> None:
    for form in forms(secret):
        assert form not in text, f"the password leaks into {where}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def g5k(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    with G5kEmulator(users={USER: PASSWORD}, speed=50.0, launch_seconds=5.0,
                     deploy_seconds=20.0) as emu:
        config = tmp_path / "g5k.yaml"
        emu.write_client_config(config, USER)
        assert PASSWORD in config.read_text()
        monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(config))
        root = tmp_path / "stack"
        root.mkdir()
        (root / "id.pub").write_text("ssh-ed25519 AAAA secrets@bedform\n")
        stack = root / "bedform.yaml"
        stack.write_text(yaml.safe_dump({"name": "secrets", "providers": {"g5k": {
            "type": "g5k", "walltime": "02:00:00", "job_type": "deploy",
            "env_name": "debian12-min", "key": str(root / "id.pub"),
            "resources": {
                "machines": [{"roles": ["server"], "cluster": "parasilo", "site": "rennes",
                              "nodes": 2, "primary_network": "n1"}],
                "networks": [{"id": "n1", "type": "kavlan", "roles": ["lan"],
                              "site": "rennes"}]}}}}))
        yield stack, config


def cli(stack: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    result = CliRunner().invoke(main, ["-c", str(stack), *args])
    assert result.exit_code in ok, result.output + repr(result.exception)
    return result.output


def test_the_password_appears_in_no_output_and_no_file(g5k, umask_000, tmp_path) -> None:
    stack, _ = g5k
    outputs = {
        "plan": cli(stack, "plan"),
        "plan --json": cli(stack, "plan", "--json"),
        "plan --out": cli(stack, "plan", "--out", str(tmp_path / "saved.plan")),
        "show PLANFILE": cli(stack, "show", str(tmp_path / "saved.plan")),
        "apply PLANFILE --json": cli(stack, "apply", "--json", str(tmp_path / "saved.plan")),
        "apply --json (no-op)": cli(stack, "apply", "--auto-approve", "--json"),
        "refresh": cli(stack, "refresh"),
        "show": cli(stack, "show"),
        "show --json": cli(stack, "show", "--json"),
        "output": cli(stack, "output"),
        "output ansible": cli(stack, "output", "--format", "ansible"),
        "output ssh-config": cli(stack, "output", "--format", "ssh-config"),
        "state list": cli(stack, "state", "list"),
        "state show": cli(stack, "state", "show", "g5k.job[rennes]"),
        "plan --debug --detailed-exitcode": cli(stack, "--debug", "plan",
                                                "--detailed-exitcode"),
        "graph": cli(stack, "graph"),
    }
    # a change, so that a backup holds the applied state
    text = stack.read_text().replace("02:00:00", "03:00:00")
    stack.write_text(text)
    outputs["apply --json (change)"] = cli(stack, "apply", "--auto-approve", "--json")
    outputs["destroy"] = cli(stack, "destroy", "--auto-approve")
    assert '"type": "apply_complete"' in outputs["apply PLANFILE --json"]
    for where, output in outputs.items():
        assert_clean(output, where)
    state_dir = stack.parent / ".bedform"
    files = [p for p in state_dir.rglob("*") if p.is_file()] + [tmp_path / "saved.plan"]
    assert any(p.parent.name == "backups" for p in files), files
    for path in files:
        assert_clean(path.read_text(errors="replace"), str(path))


def test_a_wrong_password_is_not_echoed(g5k, tmp_path) -> None:
    stack, config = g5k
    cli(stack, "apply", "--auto-approve")   # a state to refresh: every command calls the API
    doc = yaml.safe_load(config.read_text())
    doc["password"] = WRONG
    config.write_text(yaml.safe_dump(doc))
    for args in (("plan",), ("apply", "--auto-approve"), ("--debug", "plan"), ("refresh",),
                 ("destroy", "--auto-approve")):
        # in a subprocess: what a user sees on the terminal, stderr included
        proc = subprocess.run([sys.executable, "-m", "bedform.cli", "-c", str(stack), *args],
                              cwd=REPO, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        text = proc.stdout + proc.stderr
        assert proc.returncode == 1, text
        assert "401" in text or "auth" in text.lower(), text
        assert_clean(text, f"the error of `{' '.join(args)}`", WRONG)
        assert_clean(text, f"the error of `{' '.join(args)}`", PASSWORD)
    for path in (stack.parent / ".bedform").rglob("*"):
        if path.is_file():
            assert_clean(path.read_text(errors="replace"), str(path), WRONG)


def test_state_and_backups_are_private(g5k, umask_000) -> None:
    stack, _ = g5k
    cli(stack, "apply", "--auto-approve")
    stack.write_text(stack.read_text().replace("02:00:00", "03:00:00"))
    cli(stack, "apply", "--auto-approve")
    state_dir = stack.parent / ".bedform"
    assert mode(state_dir) == 0o700
    assert mode(state_dir / "state.json") == 0o600
    backups = list((state_dir / "backups").iterdir())
    assert backups
    assert mode(state_dir / "backups") == 0o700
    for backup in backups:
        assert mode(backup) == 0o600, backup
    for path in state_dir.rglob("*"):     # nothing under it is readable by others
        assert not mode(path) & 0o077, f"{path} is {oct(mode(path))}"


def local_apply(local_stack, cidr: str):  # noqa: F811
    stack = local_stack("keys").write([{"roles": ["node"]}], [{"id": "lan", "cidr": cidr}])
    stack.apply()
    return stack


@root_only
@pytest.mark.root
def test_local_private_keys_are_private(local_stack, umask_000) -> None:  # noqa: F811
    stack = local_apply(local_stack, "198.18.144.0/24")
    try:
        keyfile = Path(stack.attribute("here.key[ssh]", "keyfile"))
        for key in (keyfile, keyfile.with_name("ssh_host_ed25519_key")):
            assert key.exists() and mode(key) == 0o600, f"{key} is {oct(mode(key))}"
        assert mode(keyfile.parent) == 0o700, keyfile.parent
        assert mode(stack.state_dir) == 0o700
        assert mode(stack.state_dir / "state.json") == 0o600
    finally:
        stack.destroy()


@root_only
@pytest.mark.root
def test_local_state_tree_is_private_under_umask_000(local_stack, umask_000) -> None:  # noqa: F811
    stack = local_apply(local_stack, "198.18.145.0/24")
    try:
        for path in [stack.state_dir, *stack.state_dir.rglob("*")]:
            if path.is_dir():
                assert mode(path) == 0o700, f"{path} is {oct(mode(path))}"
    finally:
        stack.destroy()
