"""EnOSlib's kavlan tutorial, unchanged apart from `import bedform as en`, against the
Grid'5000 box (issue 17): a deploy job with a kavlan secondary network, `sync_info`,
`filter_addresses` on the private network, then a real `ping` from the client node to
the server's kavlan address, and a destroy that leaves no job."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import (  # noqa: F401
    g5k_box_factory,
    g5k_emulator_factory,
    ssh_agent,
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the box needs root"),
    pytest.mark.skipif(shutil.which("ping") is None,
                       reason="the tutorial pings: apt-get install iputils-ping"),
]


@pytest.fixture
def box(g5k_box_factory: Any, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> Iterator[G5kEmulator]:
    """The box on a fast clock, as the user alice of the tutorial: her API credentials
    file, her key in her agent and in ~/.ssh, the tutorial's directory as working one."""
    emulator = g5k_box_factory(speed=40.0, deploy_seconds=20.0)
    assert emulator.box is not None
    monkeypatch.setenv("BEDFORM_G5K_CONFIG",
                       str(emulator.write_client_config(tmp_path / "g5k.yaml", "alice")))
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    key = emulator.box.user_key("alice")
    shutil.copy(key.with_suffix(".pub"), home / ".ssh" / "id_rsa.pub")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    with ssh_agent([key], tmp_path) as agent:
        monkeypatch.setenv("SSH_AUTH_SOCK", agent)
        yield emulator


def test_the_kavlan_tutorial_runs_unchanged_on_the_box(box: G5kEmulator,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    import bedform as en

    # ---- the tutorial, as EnOSlib's documentation gives it --------------------------------
    en.init_logging(level=logging.INFO)
    en.check()

    job_name = "tuto_kavlan.py"

    private_net = en.G5kNetworkConf(type="kavlan", roles=["private"], site="rennes")

    conf = (
        en.G5kConf.from_settings(
            job_name=job_name,
            job_type=["deploy"],
            env_name="debian11-nfs",
            walltime="0:20:00",
        )
        .add_network_conf(private_net)
        .add_machine(roles=["server"], cluster="parasilo", nodes=1,
                     secondary_networks=[private_net])
        .add_machine(roles=["client"], cluster="parasilo", nodes=1,
                     secondary_networks=[private_net])
    )

    provider = en.G5k(conf)
    try:
        roles, networks = provider.init()
        roles = en.sync_info(roles, networks)

        server = roles["server"][0]
        ip_address_obj = server.filter_addresses(networks=networks["private"])[0]
        server_private_ip = ip_address_obj.ip.ip

        results = en.run_command(f"ping -c3 {server_private_ip}", roles=roles["client"])
        for result in results:
            print(f"Ping from {result.host} to {server_private_ip}:")
            print(f"{result.stdout}")
        # ---- end of the tutorial's own lines (its destroy is in `finally`) ---------------

        printed = capsys.readouterr().out
        assert "3 packets transmitted, 3 received" in printed, printed
        assert [r.host for r in results] == [roles["client"][0].alias]
        # the address pinged is the server's on the kavlan, not its production one
        assert any(server_private_ip in net.network for net in networks["private"])
        assert str(server_private_ip) != server.address
    finally:
        provider.destroy()
    assert alive_jobs(box) == []


def alive_jobs(box: G5kEmulator) -> list[int]:
    """alice's jobs in rennes that still hold resources, asked through the API."""
    from grid5000 import Grid5000

    client = Grid5000.from_yaml(os.environ["BEDFORM_G5K_CONFIG"])
    jobs = client.sites["rennes"].jobs.list(user="alice", state="running,waiting,launching")
    return [job.uid for job in jobs]
