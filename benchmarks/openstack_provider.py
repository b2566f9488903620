"""The openstack driver against the OpenStack emulator, through the real CLI.

    python benchmarks/openstack_provider.py

(Not `openstack.py`: run as a script, its directory comes first on sys.path and the
file would shadow the openstacksdk package.)

HTTP requests of the first apply, a no-op apply and destroy of a 50-server stack (one
gateway server and 49 others on a new network with a router, a security group and a
floating IP), and the refresh cost at 5 and at 50 servers: the refresh is batched, one
listing per collection, so the no-op apply costs the same number of requests whatever
the number of servers. Keystone's token requests are counted apart (`auth`).
Targets: the no-op apply makes no mutating request, and its requests do not grow
with the number of servers.

`measure()` returns the rows; run standalone, it prints them as a table.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bedform.emulators.openstack import OpenstackEmulator
from bedform.emulators.openstack.server import DEFAULT_CLOUD_NAME
from benchmarks.common import Row, cli, cli_env, print_table

MUTATING = ("POST", "PUT", "DELETE")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFb3dF0kGq4o4m1pV1o8m8wqg3c8mZ0c3y4h7g8lq9tY b@b"


def write_stack(root: Path, emu: OpenstackEmulator, servers: int
                ) -> tuple[Path, dict[str, str]]:
    root.mkdir(parents=True, exist_ok=True)
    clouds = emu.write_clouds_yaml(root / "clouds.yaml")
    stack = root / "bedform.yaml"
    stack.write_text(yaml.safe_dump({"name": f"bench{servers}", "providers": {"os": {
        "type": "openstack", "cloud": DEFAULT_CLOUD_NAME, "key_name": "bench",
        "image": "cirros-0.6.2", "user": "cirros",
        "resources": {"machines": [
            {"roles": ["gateway"], "flavour": "m1.tiny", "number": 1},
            {"roles": ["worker"], "flavour": "m1.tiny", "number": servers - 1}],
            "networks": ["lan"]}}}}))
    home = root / "home"
    home.mkdir(exist_ok=True)
    return stack, cli_env(HOME=str(home), OS_CLIENT_CONFIG_FILE=str(clouds))


def _counts(emu: OpenstackEmulator) -> tuple[int, int, int, str, str]:
    requests = [r for r in emu.requests() if not r["path"].startswith("/v3")]
    auth = len(emu.requests()) - len(requests)
    mutating = sum(r["method"] in MUTATING for r in requests)
    methods = ", ".join(f"{k} {v}" for k, v in sorted(
        Counter(r["method"] for r in requests).items()))
    gets = ", ".join(sorted(r["path"].split("/", 3)[-1] for r in requests
                            if r["method"] == "GET"))
    return len(requests), mutating, auth, methods, gets


def run_phases(servers: int) -> dict[str, tuple[int, int, int, str, str, float]]:
    """Requests of each phase for a stack of `servers` servers."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="bench-openstack-") as tmp, \
            OpenstackEmulator(users={"alice": "pw"}, speed=0.0, build_seconds=0.0) as emu:
        emu.set_quotas(instances=servers + 10, cores=2 * servers + 20,
                       ram=1024 * servers + 10240, port=4 * servers + 50)
        stack, env = write_stack(Path(tmp), emu, servers)
        import openstack

        conn = openstack.connect(**emu.auth(), region_name=emu.cloud.region)
        conn.compute.create_keypair(name="bench", public_key=KEY)
        conn.close()
        for phase in ("first apply", "no-op apply", "destroy"):
            args = ("destroy", "--auto-approve") if phase == "destroy" else \
                ("apply", "--auto-approve")
            emu.clear_requests()
            elapsed, _ = cli(stack, *args, env=env)
            out[phase] = (*_counts(emu), elapsed)
    return out


def measure() -> list[Row]:
    rows = []
    small = run_phases(5)
    big = run_phases(50)
    for phase, (total, mutating, auth, methods, _, elapsed) in big.items():
        note = f"{methods}, {mutating} mutating, +{auth} auth; {elapsed:.2f} s CLI wall"
        rows.append(Row(f"openstack 50 servers: {phase}, requests", None, total, "req",
                        note=note))
    rows.append(Row("openstack 50 servers: no-op apply, mutating requests", 0,
                    big["no-op apply"][1], "req"))
    rows.append(Row("openstack no-op apply: requests at 50 servers minus at 5", 0,
                    big["no-op apply"][0] - small["no-op apply"][0], "req",
                    note=f"{small['no-op apply'][0]} at 5, {big['no-op apply'][0]} at 50 "
                         "(batched refresh)"))
    listings = big["no-op apply"][4]
    rows.append(Row("openstack 50 servers: no-op apply, GET requests", None,
                    len(listings.split(", ")) if listings else 0, "req",
                    note=f"one listing per collection: {listings}"))
    return rows


if __name__ == "__main__":
    print_table(measure())
