"""Fixtures: a Chameleon site in the OpenStack emulator (Blazar, sharednet1, CC images)
and bare-metal stacks driven through the CLI in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from bedform.cli import main
from bedform.emulators.openstack import OpenstackEmulator
from bedform.emulators.openstack.server import DEFAULT_CLOUD_NAME
from bedform.emulators.openstack.testing import openstack_emulator_factory  # noqa: F401
from tests.openstack.conftest import MUTATING, prepare


@pytest.fixture
def site(openstack_emulator_factory, tmp_path: Path,  # noqa: F811
         monkeypatch: pytest.MonkeyPatch) -> OpenstackEmulator:
    """A frozen Chameleon site whose servers are ACTIVE at once, clients pointed at it."""
    return prepare(openstack_emulator_factory(build_seconds=0.0, chameleon=True),
                   tmp_path, monkeypatch)


def bare_metal(machines: list[tuple[str, str, int]], **top: Any) -> dict[str, Any]:
    """A `chameleonbaremetal` section: (role, node type, count) groups."""
    return {"type": "chameleonbaremetal", "cloud": DEFAULT_CLOUD_NAME, "key_name": "mykey",
            "walltime": "01:00:00", **top, "resources": {
                "machines": [{"roles": [role], "flavour": node_type, "number": count}
                             for role, node_type, count in machines],
                "networks": ["lan"]}}


class Stack:
    """A stack file in `root`, the CLI run on it in-process."""

    def __init__(self, root: Path, name: str = "exp") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.file = root / "bedform.yaml"
        self.name = name

    def write(self, **providers: dict[str, Any]) -> Stack:
        self.file.write_text(yaml.safe_dump({"name": self.name, "providers": providers}))
        return self

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["-c", str(self.file), *args], catch_exceptions=False)

    def apply(self) -> Result:
        result = self.run("apply", "--auto-approve")
        assert result.exit_code == 0, result.output
        return result


def mutations(emulator: OpenstackEmulator) -> list[tuple[str, str]]:
    """Mutating API calls logged so far (Keystone's token requests left out)."""
    return [(r["method"], r["path"]) for r in emulator.requests()
            if r["method"] in MUTATING and not r["path"].startswith("/v3/")]


def blazar() -> Any:
    """A python-blazarclient client as the stacks' user (the clouds.yaml of `prepare`)."""
    import openstack
    from blazarclient import client

    conn = openstack.connect(cloud=DEFAULT_CLOUD_NAME)
    return client.Client(1, session=conn.session, service_type="reservation",
                         region_name=conn.config.region_name)


def held_hosts(client: Any) -> list[str]:
    """Hosts some reservation holds, from Blazar's allocations (`GET /os-hosts/allocations`)."""
    return sorted(str(a["resource_id"]) for a in client.allocation.list("os-hosts")
                  if a.get("reservations"))

