"""Two stack files in one directory never share a state (issue 17, items 2 and 3)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from bedform.cli import main
from tests.engine.conftest import FakeStack


def run(directory: Path, stack_file: str, *args: str):
    cwd = os.getcwd()
    os.chdir(directory)   # relative paths, as a user types them
    try:
        return CliRunner().invoke(main, ["-c", stack_file, *args])
    finally:
        os.chdir(cwd)


def write(path: Path, name: str, cloud: Path, servers: int) -> None:
    path.write_text(json.dumps({"name": name, "providers": {"fake": {
        "type": "fake", "cloud": str(cloud),
        "servers": [{"name": name, "count": servers}]}}}))


def test_a_second_stack_beside_the_first_gets_its_own_state(tmp_path: Path) -> None:
    cloud = tmp_path / "cloud.json"
    write(tmp_path / "a.yaml", "alpha", cloud, 2)
    write(tmp_path / "b.yaml", "beta", cloud, 1)
    assert run(tmp_path, "a.yaml", "apply", "--auto-approve").exit_code == 0
    plan_b = run(tmp_path, "b.yaml", "plan")
    assert plan_b.exit_code == 0, plan_b.output
    assert "1 to add, 0 to change, 0 to destroy" in plan_b.output   # nothing of alpha's
    assert run(tmp_path, "b.yaml", "apply", "--auto-approve").exit_code == 0
    alpha = json.loads((tmp_path / ".bedform" / "state.json").read_text())
    beta = json.loads((tmp_path / ".bedform" / "stacks" / "beta" / "state.json").read_text())
    assert alpha["stack"] == "alpha" and len(alpha["resources"]) == 2
    assert beta["stack"] == "beta" and len(beta["resources"]) == 1
    assert run(tmp_path, "a.yaml", "plan").output.count("No changes.") == 1


def test_a_state_of_another_stack_is_refused_naming_both(tmp_path: Path) -> None:
    cloud = tmp_path / "cloud.json"
    write(tmp_path / "a.yaml", "alpha", cloud, 1)
    write(tmp_path / "renamed.yaml", "gamma", cloud, 1)
    assert run(tmp_path, "a.yaml", "apply", "--auto-approve").exit_code == 0
    refused = run(tmp_path, "renamed.yaml", "--state", ".bedform", "plan")
    assert refused.exit_code == 1
    assert "belongs to stack 'alpha', not to 'gamma'" in refused.output
    assert "--adopt-state" in refused.output and "Traceback" not in refused.output
    adopted = run(tmp_path, "renamed.yaml", "--state", ".bedform", "--adopt-state", "plan")
    assert adopted.exit_code == 0, adopted.output


def test_a_relative_state_directory_is_resolved_once(stack: FakeStack, tmp_path: Path) -> None:
    stack.write(servers=[{"name": "web", "count": 1}])
    result = run(tmp_path, str(stack.file.relative_to(tmp_path)), "--state", "here/st",
                 "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "here" / "st" / "state.json").exists()
    assert run(tmp_path / "here", "../" + str(stack.file.relative_to(tmp_path)),
               "--state", "st", "plan").output.count("No changes.") == 1
