"""The g5k driver against the API emulator, through the real CLI in a subprocess.

    python benchmarks/g5k.py

1. HTTP requests (and wall time) of the first apply, `refresh`, `plan`, a no-op
   `apply` and `destroy` on a 3-site stack (2 nodes per site, deploy jobs). Targets:
   refresh <= 2 requests per site; the no-op apply makes no mutating request.
2. Issue 5: with 50 ms of latency on every API request (emulator `latency_ms=50`), the
   apply's wall time against its critical path, target within 10 %. The critical path
   is the longest dependency chain (dependencies from the state the apply leaves) of
   summed operation durations. Each operation's duration is measured by the parent
   from the arrival times of the `apply_start` and `apply_complete` lines of
   `apply --json` (unbuffered; their own `elapsed` field is rounded to 0.1 s, too
   coarse here); the apply's wall time runs from the first `apply_start` to the last
   `apply_complete`. The ratio therefore measures the executor's own overhead — time
   when an operation whose dependencies are done is not running — and not the
   interpreter start-up, refresh or planning, which are reported apart.

`measure()` returns the rows; run standalone, it prints them as a table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bedform.emulators.g5k import G5kEmulator
from bedform.state.store import StateStore
from benchmarks.common import REPO, Row, cli, cli_env, print_table

SITES = {"rennes": "parasilo", "nancy": "gros", "lyon": "nova"}
MUTATING = ("POST", "PUT", "DELETE", "PATCH")


def write_stack(root: Path, emu: G5kEmulator) -> tuple[Path, dict[str, str]]:
    root.mkdir(parents=True, exist_ok=True)
    emu.write_client_config(root / "g5k.yaml", "alice")
    (root / "id.pub").write_text("ssh-ed25519 AAAA bench\n")
    machines = [{"roles": [site], "cluster": cluster, "site": site, "nodes": 2}
                for site, cluster in SITES.items()]
    stack = root / "bedform.yaml"
    stack.write_text(yaml.safe_dump({"name": "bench", "providers": {"g5k": {
        "type": "g5k", "walltime": "01:00:00", "job_type": ["deploy"],
        "env_name": "debian12-min", "key": str(root / "id.pub"),
        "resources": {"machines": machines}}}}))
    return stack, cli_env(BEDFORM_G5K_CONFIG=str(root / "g5k.yaml"))


def request_rows(root: Path) -> list[Row]:
    rows = []
    # speed 100: a multi-site apply reserves a common slot (about a minute ahead, as
    # EnOSlib does), which then takes ~1 s of real time, not a minute
    with G5kEmulator(users={"alice": "pw"}, speed=100.0, launch_seconds=5.0,
                     deploy_seconds=60.0) as emu:
        stack, env = write_stack(root, emu)
        for label, args in (("first apply", ("apply", "--auto-approve")),
                            ("refresh", ("refresh",)), ("plan", ("plan",)),
                            ("no-op apply", ("apply", "--auto-approve")),
                            ("destroy", ("destroy", "--auto-approve"))):
            emu.clear_requests()
            elapsed, _ = cli(stack, *args, env=env)
            requests = emu.requests()
            kinds = Counter(r["method"] for r in requests)
            detail = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
            note = f"{detail}; {elapsed:.2f} s CLI wall"
            if label == "refresh":
                rows.append(Row("g5k: refresh, requests per site (3 sites)", 2,
                                len(requests) / len(SITES), "req", note=note))
            elif label == "no-op apply":
                rows.append(Row("g5k: no-op apply, mutating requests", 0,
                                sum(kinds[m] for m in MUTATING), "req", note=note))
            else:
                rows.append(Row(f"g5k: {label}, requests (3 sites)", None, len(requests),
                                "req", note=note))
    return rows


def critical_path(durations: dict[str, float], deps: dict[str, list[str]]) -> float:
    """The longest chain of summed durations through the operations' dependencies."""
    memo: dict[str, float] = {}

    def longest(address: str) -> float:
        if address not in memo:
            before = [longest(d) for d in deps.get(address, []) if d in durations]
            memo[address] = durations[address] + max(before, default=0.0)
        return memo[address]

    return max((longest(a) for a in durations), default=0.0)


def latency_rows(root: Path, latency_ms: float = 50.0) -> list[Row]:
    with G5kEmulator(users={"alice": "pw"}, speed=100.0, launch_seconds=5.0,
                     deploy_seconds=60.0, latency_ms=latency_ms) as emu:
        stack, env = write_stack(root, emu)
        env["PYTHONUNBUFFERED"] = "1"
        started_at: dict[str, float] = {}
        durations: dict[str, float] = {}
        wall_start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bedform.cli", "-c", str(stack),
                                 "apply", "--auto-approve", "--json"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.perf_counter()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            address = event.get("address")
            if event.get("type") == "apply_start":
                started_at[address] = now
            elif event.get("type") == "apply_complete":
                durations[address] = now - started_at[address]
        if proc.wait() != 0 or not durations:
            raise RuntimeError(f"apply --json failed ({proc.returncode})")
        cli_wall = time.perf_counter() - wall_start
        finished = max(started_at[a] + d for a, d in durations.items())
        apply_wall = finished - min(started_at.values())
        state = StateStore(stack.parent / ".bedform").load()
        deps = {a: list(r.dependencies) for a, r in state.resources.items()}
        path = critical_path(durations, deps)
    ratio = apply_wall / path
    return [Row(f"g5k: apply wall / critical path, {latency_ms:.0f} ms API latency",
                1.10, ratio, "x",
                note=(f"apply {apply_wall:.2f} s vs critical path {path:.2f} s "
                      f"({len(durations)} operations; {cli_wall:.2f} s CLI wall)"))]


def measure() -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        return request_rows(Path(tmp) / "requests") + latency_rows(Path(tmp) / "latency")


def main() -> None:
    print_table(measure())


if __name__ == "__main__":
    main()
