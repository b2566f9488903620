"""The plan's slot step with a reserving provider that cannot check availability (a
fake-cloud driver declaring so) next to Grid'5000: the plan says so, never "yes"."""

from __future__ import annotations

from typing import Any

import yaml
from click.testing import CliRunner

from bedform.cli import main
from bedform.providers import register_driver
from bedform.providers.base import Capabilities
from tests.fakecloud import FakeDriver
from tests.slots.conftest import g5k_section, job_posts


class BlindDriver(FakeDriver):
    """Reserves (walltimes) but cannot pre-check availability."""

    type_name = "blind"
    capabilities = Capabilities(advance_reservation=True, test_slot=False,
                                walltime_update=True)
    seen: list[tuple[float, int]] = []

    def walltime(self, conf: Any) -> int:
        return 3600

    def with_reservation(self, conf: Any, start: float, offset: int = 0) -> Any:
        BlindDriver.seen.append((start, offset))
        return conf

    def recorded_reservation(self, conf: Any, records: Any) -> None:
        return None


def test_plan_says_a_provider_cannot_check(emu, tmp_path):
    register_driver("blind", "tests.slots.test_engine_slot_step:BlindDriver")
    stack = tmp_path / "bedform.yaml"
    stack.write_text(yaml.safe_dump({"name": "blind", "providers": {
        "cloud": {"type": "blind", "cloud": str(tmp_path / "cloud.json"),
                  "jobs": [{"name": "batch", "walltime": 3600}]},
        "g5k": {"type": "g5k", **g5k_section(("lyon", "hercule", 1))}}}))
    result = CliRunner().invoke(main, ["-c", str(stack), "plan"])
    assert result.exit_code == 0, result.output
    assert "all providers start at" in result.output
    assert "cloud cannot check availability in advance" in result.output
    assert BlindDriver.seen and BlindDriver.seen[-1][1] == 0
    slots_out = CliRunner().invoke(main, ["-c", str(stack), "slots"])
    assert "cloud: cannot check availability in advance" in slots_out.output
    assert job_posts(emu) == []
