"""The unmodified ``openstack`` CLI and ``bedform emulate openstack`` against the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openstack
import pytest
import yaml

from bedform.emulators.openstack import DEFAULT_CLOUD_NAME, OpenstackEmulator

REPO = Path(__file__).resolve().parents[2]
OPENSTACK = str(Path(sys.executable).with_name("openstack"))

pytest_plugins = ("bedform.emulators.openstack.testing",)
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]


def _cli(*args: str) -> Any:
    """Run ``openstack ARGS -f json`` with the environment's OS_CLOUD; return its JSON."""
    result = subprocess.run([OPENSTACK, *args, "-f", "json"], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_openstack_cli_lists_servers_networks_and_floating_ips(
    openstack_cloud: Any, openstack_emulator: OpenstackEmulator
) -> None:
    conn, emu = openstack_cloud, openstack_emulator
    public = conn.network.find_network("public")
    network = conn.network.create_network(name="cli-net")
    subnet = conn.network.create_subnet(network_id=network.id, cidr="10.40.0.0/24",
                                        ip_version=4)
    router = conn.network.create_router(name="cli-router",
                                        external_gateway_info={"network_id": public.id})
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    image = conn.image.find_image("ubuntu-22.04")
    server = conn.compute.create_server(name="cli-vm", image_id=image.id, flavor_id="5",
                                        networks=[{"uuid": network.id}])
    emu.advance(10)
    port = next(conn.network.ports(device_id=server.id))
    fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)

    servers = _cli("server", "list")
    assert [(s["Name"], s["Status"], s["Image"], s["Flavor"]) for s in servers] == [
        ("cli-vm", "ACTIVE", "ubuntu-22.04", "m1.xlarge")]
    assert "10.40.0.2" in str(servers[0]["Networks"])
    assert fip.floating_ip_address in str(servers[0]["Networks"])
    networks = {n["Name"]: n for n in _cli("network", "list")}
    assert set(networks) == {"public", "cli-net"}
    assert networks["cli-net"]["Subnets"] == [subnet.id]
    ips = _cli("floating", "ip", "list")
    assert [(i["Floating IP Address"], i["Fixed IP Address"], i["Port"]) for i in ips] == [
        (fip.floating_ip_address, "10.40.0.2", port.id)]


def test_openstack_cli_bad_password_is_refused(
    openstack_emulator: OpenstackEmulator, tmp_path: Path
) -> None:
    path = openstack_emulator.write_clouds_yaml(tmp_path / "clouds.yaml")
    config = yaml.safe_load(path.read_text())
    config["clouds"][DEFAULT_CLOUD_NAME]["auth"]["password"] = "wrong"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(path), "OS_CLOUD": DEFAULT_CLOUD_NAME}
    result = subprocess.run([OPENSTACK, "server", "list"], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode != 0
    assert "HTTP 401" in result.stderr
    statuses = [(r["path"], r["status"]) for r in openstack_emulator.requests()]
    assert ("/v3/auth/tokens", 401) in statuses


def test_emulate_openstack_command_writes_configs_and_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "conf" / "clouds.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "bedform.cli", "emulate", "openstack", "--speed", "0",
         "--write-config", str(config)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not config.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert config.exists(), "the emulator did not write clouds.yaml within 20 s"
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        rc = (config.parent / "openrc").read_text()
        assert 'export OS_AUTH_TYPE="password"' in rc and "OS_REGION_NAME" in rc
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(config))
        conn = openstack.connect(cloud=DEFAULT_CLOUD_NAME)
        assert conn.network.find_network("public") is not None
        conn.close()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert f"OS_CLIENT_CONFIG_FILE={config}" in output
    assert "Emulator stopped." in output
