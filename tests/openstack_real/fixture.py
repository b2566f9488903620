"""The real OpenStack of scripts/openstack-real.sh, for tests marked `openstack_real`.

The session fixture `openstack_real` uses a fixture that is already up: the environment
variable BEDFORM_OS_REAL_CLOUDS names its clouds.yaml (`scripts/openstack-real.sh up`
prints it; scripts/ci-openstack-real.sh sets it). Without it the tests skip, saying how
to start one; with it set but the cloud unreachable they fail.
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

ENV = "BEDFORM_OS_REAL_CLOUDS"
CLOUD, ADMIN_CLOUD = "bedform-real", "bedform-real-admin"
HOW = ("start a real OpenStack with `bash scripts/openstack-real.sh up [--blazar]` inside "
       "scripts/isolated.sh and set BEDFORM_OS_REAL_CLOUDS=<its state dir>/clouds.yaml, "
       "or run `bash scripts/ci-openstack-real.sh`")
#: An API request line of nova-api, neutron-server and glance-api (oslo.log context:
#: global request id, request id, user id, project id); blazar-api's omit the protocol.
REQUEST_LINE = re.compile(r'\[\S+ req-\S+ (?P<user>\w+) (?P<project>\w+) [^\]]*\] \S+ '
                          r'"(?P<method>[A-Z]+) (?P<path>[^\s"]+)(?: HTTP/1\.\d)?" '
                          r'status: (?P<status>\d+)')
API_LOGS = ("nova-api.log", "neutron-server.log", "glance-api.log")
BLAZAR_LOG = "blazar-api.log"
"""blazar-api's request lines have the same form."""


@attrs.frozen
class RealCloud:
    """A running fixture: its clouds.yaml, state directory, and whether Blazar runs."""

    clouds: Path
    state: Path
    blazar: bool

    def connect(self, admin: bool = False) -> Any:
        """An openstacksdk Connection as the test user (alice, project demo) or admin."""
        from openstack.config import OpenStackConfig
        from openstack.connection import Connection

        config = OpenStackConfig(config_files=[str(self.clouds)])
        return Connection(config=config.get_one(cloud=ADMIN_CLOUD if admin else CLOUD))

    def auth(self, admin: bool = False) -> dict[str, Any]:
        """keystoneauth `password` arguments of a cloud of the clouds.yaml."""
        import yaml

        cloud = yaml.safe_load(self.clouds.read_text())["clouds"][
            ADMIN_CLOUD if admin else CLOUD]
        return dict(cloud["auth"])

    def requests(self, user_id: str, extra: tuple[str, ...] = ()) -> list[dict[str, str]]:
        """The API requests `user_id` made so far, read from the services' own logs
        (Nova's, Neutron's, Glance's and the `extra` ones, e.g. BLAZAR_LOG)."""
        found = []
        for name in (*API_LOGS, *extra):
            path = self.state / "log" / name
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                match = REQUEST_LINE.search(line)
                if match and match["user"] == user_id:
                    found.append(match.groupdict())
        return found


def load_real_cloud() -> RealCloud | None:
    """The fixture named by BEDFORM_OS_REAL_CLOUDS, None when the variable is unset
    (pytest.fail when it is set but the fixture is not there)."""
    value = os.environ.get(ENV)
    if not value:
        return None
    clouds = Path(value)
    if not clouds.is_file():
        pytest.fail(f"{ENV}={value}: no such file; {HOW}")
    try:
        urllib.request.urlopen("http://127.0.0.1:5000/v3", timeout=5).close()
    except OSError as error:
        pytest.fail(f"{ENV} is set but Keystone does not answer on 127.0.0.1:5000 ({error}); "
                    f"{HOW}")
    env = dict(line.split("=", 1) for line in
               (clouds.parent / "fixture.env").read_text().split())
    return RealCloud(clouds, clouds.parent, env.get("BEDFORM_OS_REAL_BLAZAR") == "yes")


@pytest.fixture(scope="session")
def openstack_real() -> RealCloud:
    """The running real OpenStack fixture, or a skip that says how to start one."""
    cloud = load_real_cloud()
    if cloud is None:
        pytest.skip(f"no real OpenStack: {HOW}")
    return cloud


@pytest.fixture(scope="session")
def openstack_real_blazar(openstack_real: RealCloud) -> RealCloud:
    """The real fixture with Blazar (`up --blazar`), or a skip."""
    if not openstack_real.blazar:
        pytest.skip("the real OpenStack runs without Blazar: bring it up with "
                    "`scripts/openstack-real.sh up --blazar`")
    return openstack_real


@pytest.fixture
def real_conn(openstack_real: RealCloud) -> Iterator[Any]:
    """An openstacksdk Connection to the real fixture as the test user."""
    conn = openstack_real.connect()
    try:
        yield conn
    finally:
        conn.close()
