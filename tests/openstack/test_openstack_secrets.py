"""The OpenStack password (from an openrc or a clouds.yaml) and the Keystone tokens
appear in no output, state file, journal, saved plan or error."""

from __future__ import annotations

from pathlib import Path

from tests.openstack.conftest import OpenstackStack, prepare, section

PASSWORD = "0s-s3cr3t-PaSSw0rd-frobozz"


def files_text(root: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_password_and_tokens_never_leak(openstack_emulator_factory, tmp_path, monkeypatch):
    emu = openstack_emulator_factory(users={"alice": PASSWORD}, build_seconds=0.0)
    prepare(emu, tmp_path, monkeypatch)
    rc = emu.write_openrc(tmp_path / "openrc.sh")
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE")
    stack = OpenstackStack(tmp_path / "stack", emu)
    doc = section(servers=1)
    doc.pop("cloud")
    stack.write(**doc, rc_file=str(rc))
    saved = tmp_path / "saved.plan"
    outputs = [stack.run("plan", "--out", str(saved)).output,
               stack.run("plan", "--json").output, stack.apply().output,
               stack.run("show").output, stack.run("output").output]
    emu.add_fault(path="/compute/v2.1/servers/detail", status=500, count=1)
    outputs.append(stack.run("plan").output)
    outputs.append(stack.run("destroy", "--auto-approve").output)
    tokens = list(emu.cloud.tokens)
    assert tokens
    text = "\n".join(outputs) + files_text(stack.root) + saved.read_text(errors="replace")
    assert "osexp-0-0" in text                               # the outputs are real
    assert PASSWORD not in text
    for token in tokens:
        assert token not in text
    assert "OS_PASSWORD" not in files_text(stack.root)


def test_rc_file_without_auth_url_is_a_clear_error(emu, tmp_path):
    rc = tmp_path / "bad-openrc.sh"
    rc.write_text("export OS_USERNAME=alice\n")
    stack = OpenstackStack(tmp_path / "stack", emu)
    doc = section(servers=1)
    doc.pop("cloud")
    result = stack.write(**doc, rc_file=str(rc)).run("plan")
    assert result.exit_code != 0
    assert "exports no OS_AUTH_URL" in result.output, result.output
