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


def test_no_credentials_at_all_is_a_preflight_error(tmp_path, monkeypatch):
    """No clouds.yaml, no OS_* variable: a PreflightError saying where credentials come
    from (keystoneauth's own MissingRequiredOptions used to escape, e.g. from `check`)."""
    import os

    import pytest

    from bedform.errors import PreflightError
    from bedform.providers.openstack.client import cloud_region

    for name in [n for n in os.environ if n.startswith("OS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(PreflightError) as info:
        cloud_region()
    assert "no usable OpenStack credentials" in info.value.message
    assert "clouds.yaml" in info.value.hint
