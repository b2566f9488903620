"""Fixtures of the slot tests: a G5k emulator whose clock bedform's slot code follows,
bob's jobs to make clusters busy, and stacks mixing local and g5k providers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bedform.emulators.g5k import G5kEmulator
from bedform.emulators.g5k.testing import g5k_emulator_factory  # noqa: F401
from bedform.planner import slots


def start_emulator(factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   **kwargs: Any) -> G5kEmulator:
    kwargs.setdefault("epoch", None)
    kwargs.setdefault("speed", 0.0)
    kwargs.setdefault("launch_seconds", 0.0)
    emulator = factory(**kwargs)
    path = tmp_path / "g5k-alice.yaml"
    emulator.write_client_config(path, "alice")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(path))
    monkeypatch.chdir(tmp_path)          # the facades' implicit state dirs go there
    monkeypatch.setattr(slots, "now", emulator.now)
    return emulator


@pytest.fixture
def emu(g5k_emulator_factory, tmp_path, monkeypatch) -> G5kEmulator:  # noqa: F811
    """A frozen emulator at the real current time; bedform's slot clock follows it."""
    return start_emulator(g5k_emulator_factory, tmp_path, monkeypatch)


def as_bob(emulator: G5kEmulator):
    from grid5000 import Grid5000

    return Grid5000(**emulator.client_config("bob"))


def busy(emulator: G5kEmulator, site: str, cluster: str, nodes: int, walltime: str,
         reservation: str | None = None) -> int:
    """Bob takes `nodes` nodes of `cluster` (now, or at a Paris-time reservation)."""
    body: dict[str, Any] = {"resources": f"{{cluster='{cluster}'}}/nodes={nodes},"
                            f"walltime={walltime}", "command": "sleep 1d", "name": "bob"}
    if reservation:
        body["reservation"] = reservation
    return as_bob(emulator).http_post(f"/sites/{site}/jobs", post_data=body)["uid"]


def g5k_section(*clusters: tuple[str, str, int], walltime: str = "01:00:00",
                **top: Any) -> dict[str, Any]:
    """A non-deploy g5k section on (site, cluster, nodes) groups, prod networks."""
    sites = sorted({site for site, _, _ in clusters})
    return {"walltime": walltime, **top, "resources": {
        "machines": [{"roles": [cluster], "cluster": cluster, "site": site, "nodes": n,
                      "primary_network": f"prod-{site}"} for site, cluster, n in clusters],
        "networks": [{"id": f"prod-{site}", "type": "prod", "roles": ["prod"],
                      "site": site} for site in sites]}}


def job_posts(emulator: G5kEmulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests()
            if r["method"] == "POST" and r["path"].endswith("/jobs")]
