"""Credentials through openstacksdk's loaders: the OS_* environment, and an application
credential in a clouds.yaml."""

from __future__ import annotations

import yaml

from bedform.providers.openstack.client import read_rc_file
from tests.openstack.conftest import section


def without_cloud(servers: int = 1) -> dict:
    doc = section(servers=servers)
    doc.pop("cloud")
    return doc


def test_os_environment_variables(stack, emu, tmp_path, monkeypatch):
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE")
    rc = emu.write_openrc(tmp_path / "openrc.sh")
    for key, value in read_rc_file(rc).items():
        monkeypatch.setenv(key, value)
    stack.write(**without_cloud()).apply()
    assert len(stack.state().outputs["roles"]["client"]) == 1
    assert stack.run("destroy", "--auto-approve").exit_code == 0


def test_application_credential_in_clouds_yaml(stack, emu, tmp_path, monkeypatch):
    clouds = tmp_path / "appcred.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {"appcred": {
        "auth_type": "v3applicationcredential", "auth": emu.app_credential("alice"),
        "region_name": emu.cloud.region, "identity_api_version": 3}}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    stack.write(**{**without_cloud(), "cloud": "appcred"}).apply()
    state_text = (stack.root / ".bedform" / "state.json").read_text()
    assert emu.app_credential("alice")["application_credential_secret"] not in state_text
    assert stack.run("destroy", "--auto-approve").exit_code == 0


def test_unknown_cloud_is_a_clear_error(stack):
    result = stack.write(**{**without_cloud(), "cloud": "nowhere"}).run("plan")
    assert result.exit_code != 0
    assert "no usable OpenStack credentials in cloud 'nowhere'" in result.output, \
        result.output
