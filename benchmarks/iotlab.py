"""The iotlab driver against the IoT-LAB API emulator, through the real CLI.

    python benchmarks/iotlab.py

HTTP requests of the first apply, a no-op apply and destroy of a 50-board stack (two
groups of 20 m3 boards with two firmware images, one radio profile on the first, 10 a8
boards), next to what EnOSlib's sequence costs for the same stack (reference
other-apis.md §1.6, with an experiment running at once so that its 5 s poll loop reads
once): per profile `GET monitoring` (+ `POST monitoring` when missing), the experiment
listing, the submission, the polls, `GET experiments/<id>/nodes`, and one flash per
image on every run, reload included; destroy lists, stops and deletes the profiles.
Targets: the no-op apply makes no mutating request and no flash.

`measure()` returns the rows; run standalone, it prints them as a table.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bedform.emulators.iotlab import IotlabEmulator
from benchmarks.common import Row, cli, cli_env, print_table

LAYOUT = {"grenoble": {"m3:at86rf231": 40, "a8:at86rf231": 10}}
MUTATING = ("POST", "PUT", "DELETE")
PROFILES, IMAGES = 1, 2


def enoslib_cost(phase: str) -> tuple[int, int, int]:
    """(requests, mutating requests, flashes) of EnOSlib's sequence (§1.6)."""
    if phase == "first apply":   # GET+POST monitoring, list, submit, 1 poll, nodes, flashes
        return 2 * PROFILES + 4 + IMAGES, PROFILES + 1 + IMAGES, IMAGES
    if phase == "no-op apply":   # GET monitoring, list (reload), 1 poll, nodes, flashes
        return PROFILES + 3 + IMAGES, IMAGES, IMAGES
    return 3 + PROFILES, 1 + PROFILES, 0   # list, DELETE, GET monitoring, DELETE profiles


def write_stack(root: Path, emu: IotlabEmulator) -> tuple[Path, dict[str, str]]:
    root.mkdir(parents=True, exist_ok=True)
    rc = emu.write_rc(root / "iotlabrc", "alice")
    images = []
    for name in ("fw-a.elf", "fw-b.elf"):
        (root / name).write_bytes(b"\x7fELF\x01\x01\x01" + name.encode() + bytes(64))
        images.append(str(root / name))
    m3 = "m3:at86rf231"
    stack = root / "bedform.yaml"
    stack.write_text(yaml.safe_dump({"name": "bench", "providers": {"iot": {
        "type": "iotlab", "walltime": "01:00",
        "resources": {"machines": [
            {"roles": ["a"], "archi": m3, "site": "grenoble", "number": 20,
             "image": images[0], "profile": "rssi"},
            {"roles": ["b"], "archi": m3, "site": "grenoble", "number": 20,
             "image": images[1]},
            {"roles": ["linux"], "archi": "a8:at86rf231", "site": "grenoble", "number": 10}]},
        "monitoring": {"profiles": [{"name": "rssi", "archi": "m3", "radio": {
            "mode": "rssi", "channels": [11, 26], "period": 100,
            "num_per_channel": 1}}]}}}}))
    home = root / "home"
    home.mkdir(exist_ok=True)
    return stack, cli_env(HOME=str(home), IOTLAB_PASSWORD_FILE=str(rc),
                          IOTLAB_API_URL=emu.url)


def measure() -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-iotlab-") as tmp, \
            IotlabEmulator(users={"alice": "pw"}, speed=0.0, launch_seconds=0.0,
                           layout=LAYOUT) as emu:
        stack, env = write_stack(Path(tmp), emu)
        for phase in ("first apply", "no-op apply", "destroy"):
            args = ("destroy", "--auto-approve") if phase == "destroy" else \
                ("apply", "--auto-approve")
            emu.clear_requests()
            elapsed, _ = cli(stack, *args, env=env)
            requests = emu.requests()
            mutating = sum(r["method"] in MUTATING for r in requests)
            flashes = sum("/nodes/flash" in r["path"] for r in requests)
            methods = ", ".join(f"{k} {v}" for k, v in sorted(
                Counter(r["method"] for r in requests).items()))
            total, e_mut, e_flash = enoslib_cost(phase)
            note = (f"bedform {methods}, {mutating} mutating, {flashes} flash; EnOSlib "
                    f"{total} requests, {e_mut} mutating, {e_flash} flash; "
                    f"{elapsed:.2f} s CLI wall")
            target = 0 if phase == "no-op apply" else None
            rows.append(Row(f"iotlab 50 boards: {phase}, requests", None, len(requests),
                            "req", note=note))
            if target is not None:
                rows.append(Row(f"iotlab 50 boards: {phase}, mutating requests", target,
                                mutating, "req", note=f"EnOSlib: {e_mut} ({e_flash} flash)"))
    return rows


if __name__ == "__main__":
    print_table(measure())
