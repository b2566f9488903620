"""Local-provider figures (run as root): 50 hosts x 2 networks on real namespaces.

Through the real CLI in a subprocess (wall time, Python start-up included): apply,
no-op plan, destroy. The no-op plan is also timed in-process (Engine session.plan),
since the CLI figure includes the interpreter and imports. Cleans up even on failure:
destroy in `finally`, then purge by stack id.

Prints a table: figure, target, measured, verdict.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bedform.planner.engine import Engine
from bedform.planner.plan import Mode
from bedform.providers.local import system
from bedform.stack import load_stack
from bedform.state.store import State, StateStore

HOSTS = 50
NETWORKS = [{"id": "lan", "cidr": "198.18.120.0/24"},
            {"id": "admin", "cidr": "198.18.121.0/24"}]
REPO = Path(__file__).resolve().parents[1]


def cli(config: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time of `python -m bedform.cli -c CONFIG ARGS...`; raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bedform.cli", "-c", str(config), *args],
                          cwd=REPO, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 2) or (proc.returncode == 2
                                         and "--detailed-exitcode" not in args):
        raise RuntimeError(f"bedform {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout}\n{proc.stderr}")
    return elapsed, proc


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("benchmarks/local.py needs root (network namespaces, bridges)")
    rows: list[tuple[str, float | None, float]] = []
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
                elapsed, proc = cli(config, "plan", "--detailed-exitcode")
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
            help_time = min(cli(config, "--help")[0] for _ in range(3))
            destroy_time, _ = cli(config, "destroy", "--auto-approve")
            left = system.leftovers(seed.stack_id)
            if any(left.values()):
                raise RuntimeError(f"destroy left objects behind: {left}")
        finally:
            subprocess.run([sys.executable, "-m", "bedform.cli", "-c", str(config),
                            "destroy", "--auto-approve"], cwd=REPO, capture_output=True,
                           check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
            system.purge(seed.stack_id)
    label = f"{HOSTS} hosts x {len(NETWORKS)} networks"
    rows.append((f"apply, {label} (CLI wall)", 5.0, apply_time))
    rows.append((f"no-op plan, {label} (CLI wall, best of 3)", 0.5, min(plans)))
    rows.append((f"no-op plan, {label} (in-process, best of 5)", None, min(in_process)))
    rows.append(("`bedform --help` (CLI wall, start-up cost)", None, help_time))
    rows.append((f"destroy, {label} (CLI wall)", 3.0, destroy_time))
    print(f"{'figure':<60} {'target':>8} {'measured':>9}  verdict")
    for name, target, value in rows:
        verdict = "-" if target is None else ("ok" if value <= target else "MISSED")
        target_text = "-" if target is None else f"{target:.2f} s"
        print(f"{name:<60} {target_text:>8} {value:>7.3f} s  {verdict}")


if __name__ == "__main__":
    main()
