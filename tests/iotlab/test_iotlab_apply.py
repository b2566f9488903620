"""Plan/apply of an IoT-LAB stack against the API emulator over HTTP, through the CLI."""

from __future__ import annotations

from tests.iotlab.conftest import firmware, section


def test_apply_then_noop(stack):
    stack.write(**section(stack.fw_a))
    result = stack.apply()
    print(result.output)
    state = stack.state()
    exp = state.resources["iot.experiment"]
    assert exp.attributes["state"] == "Running"
    m3 = exp.attributes["groups[0]"]
    assert len(m3) == 3 and all(b.startswith("m3-") for b in m3)
    records = stack.emu.firmware()
    assert sorted(records) == sorted(m3)
    assert {r["name"] for r in records.values()} == {"fw-a.elf"}
    roles = state.outputs["roles"]
    print(roles)
    stack.emu.clear_requests()
    again = stack.apply()
    assert "No changes" in again.output, again.output
    assert stack.posts() == []
    gets = [r["path"] for r in stack.emu.requests()]
    print(gets)
