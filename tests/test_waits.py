"""Every wait is bounded (issue 11): sleeping loops live in `providers/lifecycle.py`
(`poll`, through `ctx.sleep`), and the few short waits below it are listed here with the
bound that ends them. Emulators model time themselves and are not checked."""

from __future__ import annotations

import ast
from pathlib import Path

import bedform

PACKAGE = Path(bedform.__file__).parent

ALLOWED = {
    # a process asked to stop is given 2-3 s, then SIGKILLed (bedform.machines cannot
    # use the providers' helper: it is the layer below them)
    "machines/processes.py": "bounded by a deadline of a few seconds",
    # the default sleep of the sshd readiness probe, itself bounded by its timeout
    "machines/sshd.py": "bounded by wait_ssh's timeout",
    # waiting for another run's lock, bounded by --lock-timeout
    "state/lock.py": "bounded by --lock-timeout",
    # the conformance kit (a test harness) pacing its SIGKILL of a subprocess
    "conformance/stack.py": "bounded by the harness's crash deadline",
    # vagrant: `status` retried while another vagrant holds a VM's lock (bounded by
    # `locked_for`, the error then names the lock), and a killed run's orphaned vagrant
    # process group given `grace` seconds to die after SIGKILL
    "providers/vagrant/client.py": "bounded by locked_for and grace",
    # the conformance kit waiting for an emulator to answer a killed run's requests
    "conformance/harness.py": "bounded by EmulatorControl.settle's timeout",
}


def _sleeps(source: str) -> bool:
    """Whether the code (not its docstrings) uses `time.sleep`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "sleep" \
                and isinstance(node.value, ast.Name) and node.value.id == "time":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "time" \
                and any(alias.name == "sleep" for alias in node.names):
            return True
    return False


def test_no_sleeping_loop_outside_the_bounded_helpers() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("emulators/"):
            continue
        if _sleeps(path.read_text()):
            found[relative] = ALLOWED.get(relative, "UNBOUNDED? not in the allowed list")
    assert {k: v for k, v in found.items() if k not in ALLOWED} == {}
    assert set(found) <= set(ALLOWED)
