"""Benchmark of the Grid'5000 API emulator on loopback (a script, not a test).

Load time of the full reference data, emulator start + stop, p50/p99 latency of
``POST /sites/{s}/jobs``, ``GET /sites/{s}/jobs/{uid}`` and cluster status, and
requests per second (one client, then several threads). Request counts are bounded and
all traffic goes to 127.0.0.1. `measure()` returns the rows; standalone:

    python benchmarks/emulator_g5k.py [--posts 300] [--gets 2000] [--threads 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bedform.emulators.g5k import G5kEmulator, ReferenceData
from benchmarks.common import Row, best_of, percentile, print_table

USER, PASSWORD = "bench", "bench"


def timed(call) -> float:
    """Milliseconds of one request; raises on an HTTP error."""
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def measure(posts: int = 300, gets: int = 2000, threads: int = 4) -> list[Row]:
    posts = min(max(1, posts), 2000)
    gets = min(max(1, gets), 20000)
    threads = min(max(1, threads), 16)
    load = best_of(5, ReferenceData.load) * 1000
    rows = [Row("emulator: reference data load (939 nodes, median of 5)", 1000.0, load, "ms")]
    with G5kEmulator(users={USER: PASSWORD}, speed=0) as emu:
        def start_stop() -> None:
            with G5kEmulator(users={USER: PASSWORD}, speed=0):
                pass
        rows.append(Row("emulator: start + stop", None, best_of(1, start_stop) * 1000, "ms"))
        session = requests.Session()
        session.auth = (USER, PASSWORD)
        sites = [s for s, i in emu.testbed.ref.index.items() if i.hosts]
        jobs: list[tuple[str, int]] = []
        post_ms = []
        for i in range(posts):
            site = sites[i % len(sites)]
            body = {"resources": "nodes=1,walltime=1:00:00", "command": "sleep 1d",
                    "name": f"b{i}"}
            url = f"{emu.url}/sites/{site}/jobs"
            started = time.perf_counter()
            response = session.post(url, json=body, timeout=10)
            post_ms.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            jobs.append((site, response.json()["uid"]))
        get_ms = [
            timed(lambda s=s, u=u: session.get(f"{emu.url}/sites/{s}/jobs/{u}", timeout=10))
            for s, u in (jobs[i % len(jobs)] for i in range(gets))
        ]
        status_ms = [
            timed(lambda: session.get(f"{emu.url}/sites/nancy/clusters/gros/status",
                                      timeout=10))
            for _ in range(50)
        ]
        started = time.perf_counter()
        for i in range(gets):
            site, uid = jobs[i % len(jobs)]
            session.get(f"{emu.url}/sites/{site}/jobs/{uid}", timeout=10).raise_for_status()
        single_rps = gets / (time.perf_counter() - started)

        def worker(offset: int, count: int) -> None:
            own = requests.Session()
            own.auth = (USER, PASSWORD)
            for i in range(count):
                site, uid = jobs[(offset + i) % len(jobs)]
                own.get(f"{emu.url}/sites/{site}/jobs/{uid}", timeout=10).raise_for_status()
            own.close()

        per_thread = max(1, gets // threads)
        workers = [threading.Thread(target=worker, args=(n * 97, per_thread))
                   for n in range(threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        multi_rps = per_thread * threads / (time.perf_counter() - started)
        session.close()
    for label, values in ((f"POST job ({posts} jobs)", post_ms),
                          (f"GET job ({gets} requests)", get_ms),
                          ("GET cluster status (nancy/gros, 50 requests)", status_ms)):
        rows.append(Row(f"emulator: {label} p50", None, percentile(values, 50), "ms"))
        rows.append(Row(f"emulator: {label} p99", None, percentile(values, 99), "ms"))
    rows.append(Row("emulator: GET job throughput, 1 client", None, single_rps, "req/s",
                    lower_is_better=False))
    rows.append(Row(f"emulator: GET job throughput, {threads} threads", None, multi_rps,
                    "req/s", lower_is_better=False,
                    note=f"median request {statistics.median(get_ms):.2f} ms"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=300, help="jobs to submit (max 2000)")
    parser.add_argument("--gets", type=int, default=2000, help="job GETs (max 20000)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients (max 16)")
    args = parser.parse_args()
    print_table(measure(args.posts, args.gets, args.threads))


if __name__ == "__main__":
    main()
