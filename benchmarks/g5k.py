"""HTTP requests the g5k driver makes on a 3-site stack, against the API emulator.

    python benchmarks/g5k.py

Prints the requests (and wall time) of: the first apply, `refresh`, a no-op `apply`,
and `destroy`. Target: refresh ≤ 2 requests per site.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import yaml
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bedform.cli import main
from bedform.emulators.g5k import G5kEmulator

SITES = {"rennes": "parasilo", "nancy": "gros", "lyon": "nova"}


def run(stack: Path, *args: str) -> None:
    result = CliRunner().invoke(main, ["-c", str(stack), *args])
    if result.exit_code not in (0, 2):
        raise SystemExit(result.output)


def measure(emu: G5kEmulator, label: str, stack: Path, *args: str) -> None:
    emu.clear_requests()
    start = time.perf_counter()
    run(stack, *args)
    elapsed = time.perf_counter() - start
    requests = emu.requests()
    kinds = Counter(r["method"] for r in requests)
    print(f"{label:<16} {len(requests):>4} requests "
          f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}) "
          f"{len(requests) / len(SITES):.1f}/site  {elapsed:.2f} s")


def main_() -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp, \
            G5kEmulator(users={"alice": "pw"}, speed=1.0, launch_seconds=0.0,
                        deploy_seconds=1.0) as emu:
        root = Path(tmp)
        emu.write_client_config(root / "g5k.yaml", "alice")
        os.environ["BEDFORM_G5K_CONFIG"] = str(root / "g5k.yaml")
        (root / "id.pub").write_text("ssh-ed25519 AAAA bench\n")
        machines = [{"roles": [site], "cluster": cluster, "site": site, "nodes": 2}
                    for site, cluster in SITES.items()]
        stack = root / "bedform.yaml"
        stack.write_text(yaml.safe_dump({"name": "bench", "providers": {"g5k": {
            "type": "g5k", "walltime": "01:00:00", "job_type": ["deploy"],
            "env_name": "debian12-min", "key": str(root / "id.pub"),
            "resources": {"machines": machines}}}}))
        measure(emu, "first apply", stack, "apply", "--auto-approve")
        measure(emu, "refresh", stack, "refresh")
        measure(emu, "plan", stack, "plan")
        measure(emu, "no-op apply", stack, "apply", "--auto-approve")
        measure(emu, "destroy", stack, "destroy", "--auto-approve")


if __name__ == "__main__":
    main_()
