"""An unreachable or flaky Grid'5000 API (issue 17, items 7 and 10): transient failures
are retried within a bounded time, a lasting outage is named as such (never blamed on the
state file), a wrong password points at the credentials file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bedform.providers.g5k import client
from tests.g5k.conftest import G5kStack, section


def test_transient_5xx_are_retried_and_the_job_is_submitted_once(stack: G5kStack) -> None:
    stack.emu.add_fault(kind="http", method="POST", path=r"/sites/rennes/jobs$", status=503,
                        count=2)
    stack.emu.add_fault(kind="http", method="GET", path=r"/sites/rennes/jobs", status=502,
                        count=2)
    stack.write(**section())
    result = stack.apply()
    assert result.exit_code == 0, result.output
    posts = [r for r in stack.emu.requests()
             if r["method"] == "POST" and r["path"].endswith("/sites/rennes/jobs")]
    assert [r["status"] for r in posts] == [503, 503, 201]


def test_an_unreachable_api_is_named_and_the_state_kept(stack: G5kStack, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    stack.write(**section())
    assert stack.apply().exit_code == 0
    state_before = stack.state().resources
    with socket.socket() as probe:           # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "down.yaml"
    config.write_text(f"uri: http://127.0.0.1:{port}/\nusername: alice\npassword: alice\n")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(config))
    monkeypatch.setattr(client, "RETRY_BUDGET", 0.5)
    result = stack.run("plan")
    assert result.exit_code == 1
    assert f"the Grid'5000 API at http://127.0.0.1:{port}/ is unreachable" in result.output
    assert "state file" not in result.output and "backup" not in result.output
    assert str(config) in result.output and "Traceback" not in result.output
    assert stack.state().resources.keys() == state_before.keys()


def test_a_wrong_password_names_the_credentials_file(stack: G5kStack, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "wrong.yaml"
    config.write_text(f"uri: {stack.emu.url}\nusername: alice\npassword: nope\n"
                      "nodes_reachable: false\n")
    monkeypatch.setenv("BEDFORM_G5K_CONFIG", str(config))
    stack.write(**section())
    for command in (("plan",), ("apply", "--auto-approve")):  # a new stack: plan checks too
        result = stack.run(*command)
        assert result.exit_code == 1, result.output
        assert "(401)" in result.output
        assert f"The credentials come from {config}" in result.output
        assert "Traceback" not in result.output
    assert not stack.state().resources
