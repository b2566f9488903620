"""Local-provider figures (run as root): 50 hosts x 2 networks on real namespaces.

Through the real CLI in a subprocess (wall time, Python start-up included): apply,
no-op plan, destroy. The no-op plan is also timed in-process (Engine session.plan),
since the CLI figure includes the interpreter and imports. Cleans up even on failure:
destroy in `finally`, then purge by stack id.

`measure()` returns the rows (skipped, with a note, when not root); run standalone, it
prints them as a table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bedform import machines
from bedform.planner.engine import Engine
from bedform.planner.plan import Mode
from bedform.providers.local import cleanup
from bedform.stack import load_stack
from bedform.state.store import State, StateStore
from benchmarks.common import REPO, Row, cli, cli_env, print_table

HOSTS = 50
NETWORKS = [{"id": "lan", "cidr": "198.18.120.0/24"},
            {"id": "admin", "cidr": "198.18.121.0/24"}]
LABEL = f"{HOSTS} hosts x {len(NETWORKS)} networks"
FIGURES = [(f"local: apply, {LABEL} (CLI wall)", 5.0),
           (f"local: no-op plan, {LABEL} (CLI wall, best of 3)", 0.5),
           (f"local: no-op plan, {LABEL} (in-process, best of 5)", None),
           ("local: destroy, " + LABEL + " (CLI wall)", 3.0)]


def skipped(reason: str) -> list[Row]:
    return [Row(name, target, None, note=reason) for name, target in FIGURES]


def measure() -> list[Row]:
    if os.geteuid() != 0:
        return skipped("needs root (network namespaces, bridges)")
    missing = [p for p in ("ip", "sshd", "ssh-keygen", "nsenter") if not machines.which(p)]
    if missing:
        return skipped(f"needs {', '.join(missing)}")
    with tempfile.TemporaryDirectory() as root:
        config = Path(root) / "bedform.yaml"
        config.write_text(yaml.safe_dump({"name": "bench", "providers": {"here": {
            "type": "local", "resources": {
                "machines": [{"roles": ["node"], "number": HOSTS}],
                "networks": NETWORKS}}}}))
        seed = State()  # a known stack id, so that the cleanup can find everything
        StateStore(Path(root) / ".bedform").save(seed)
        try:
            apply_time, _ = cli(config, "apply", "--auto-approve")
            state = StateStore(Path(root) / ".bedform").load()
            if len(state.resources) != 1 + 2 + HOSTS * 4:
                raise RuntimeError(f"unexpected resource count {len(state.resources)}")
            plans = []
            for _ in range(3):
                elapsed, proc = cli(config, "plan", "--detailed-exitcode", ok=(0, 2))
                if proc.returncode != 0:
                    raise RuntimeError(f"the no-op plan has changes:\n{proc.stdout}")
                plans.append(elapsed)
            engine = Engine(load_stack(config))
            in_process = []
            with engine.session("plan") as session:
                for _ in range(5):
                    start = time.perf_counter()
                    plan = session.plan(Mode.APPLY)
                    in_process.append(time.perf_counter() - start)
                    assert not plan.has_changes
            destroy_time, _ = cli(config, "destroy", "--auto-approve")
            left = cleanup.leftovers(seed.stack_id)
            if any(left.values()):
                raise RuntimeError(f"destroy left objects behind: {left}")
        finally:
            subprocess.run([sys.executable, "-m", "bedform.cli", "-c", str(config),
                            "destroy", "--auto-approve"], cwd=REPO, capture_output=True,
                           check=False, env=cli_env())
            cleanup.purge(seed.stack_id)
    values = [apply_time, min(plans), min(in_process), destroy_time]
    return [Row(name, target, value) for (name, target), value in zip(FIGURES, values,
                                                                        strict=True)]


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("benchmarks/local.py needs root (network namespaces, bridges)")
    print_table(measure())


if __name__ == "__main__":
    main()
