"""One client-level call sequence against the emulator and the real OpenStack: the
status codes and the response fields clients read must be the same, but for the
differences listed here and in docs/openstack.md ("Emulator vs real").

The real cloud's transcripts are kept in real_transcripts.json (rewritten by a real run
with BEDFORM_CONTRACT_RECORD=1), so that every run checks the emulator against them;
the `openstack_real` run compares with the live cloud as well."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.openstack_contract.sequence import Target, enoslib_sequence, sdk_sequence
from tests.openstack_contract.transcript import differences

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")]
RECORDED = Path(__file__).with_name("real_transcripts.json")
SEQUENCES: dict[str, Callable[[Target, str], list[dict[str, Any]]]] = {
    "openstacksdk": sdk_sequence, "enoslib": enoslib_sequence}
#: Differences the emulator keeps on purpose (docs/openstack.md, "Emulator vs real").
KNOWN: dict[str, str] = {
    "version.version = 2.61, real 2.93":
        "the emulator's Nova stops at microversion 2.61 (python-chi's), Zed goes to 2.93",
    "disk_format = qcow2, real raw":
        "seed data: the fixture uploads a few raw bytes, the emulator's images say qcow2",
}


def emulator_transcript(factory: Callable[..., Any], sequence: str) -> list[dict[str, Any]]:
    emulator = factory(build_seconds=0.0)
    target = Target(emulator.auth("alice", "demo"), emulator.cloud.region)
    return SEQUENCES[sequence](target, f"ct{uuid.uuid4().hex[:6]}")


def unexplained(found: list[str]) -> list[str]:
    return [line for line in found if not any(known in line for known in KNOWN)]


@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_emulator_answers_as_the_recorded_real_cloud(openstack_emulator_factory,
                                                     sequence: str) -> None:
    real = json.loads(RECORDED.read_text())[sequence]
    found = differences(emulator_transcript(openstack_emulator_factory, sequence), real)
    assert unexplained(found) == []


@pytest.mark.openstack_real
@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_emulator_answers_as_the_real_cloud(openstack_emulator_factory,
                                            openstack_real, sequence: str) -> None:
    auth = openstack_real.auth()
    real = SEQUENCES[sequence](Target(auth), f"ct{uuid.uuid4().hex[:6]}")
    if os.environ.get("BEDFORM_CONTRACT_RECORD"):
        recorded = json.loads(RECORDED.read_text()) if RECORDED.exists() else {}
        recorded[sequence] = real
        RECORDED.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    found = differences(emulator_transcript(openstack_emulator_factory, sequence), real)
    assert unexplained(found) == []
