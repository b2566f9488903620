"""Benchmark of the Grid'5000 API emulator on loopback (a script, not a test).

Prints a table: load time of the full reference data, p50/p99 latency of
``POST /sites/{s}/jobs`` and ``GET /sites/{s}/jobs/{uid}``, and requests per
second (one client, then several threads). Request counts are bounded and all
traffic goes to 127.0.0.1.

    python benchmarks/emulator_g5k.py [--posts 300] [--gets 2000] [--threads 4]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import requests

from bedform.emulators.g5k import G5kEmulator, ReferenceData

USER, PASSWORD = "bench", "bench"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def timed(call) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=300, help="jobs to submit (max 2000)")
    parser.add_argument("--gets", type=int, default=2000, help="job GETs (max 20000)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent clients (max 16)")
    args = parser.parse_args()
    posts = min(max(1, args.posts), 2000)
    gets = min(max(1, args.gets), 20000)
    threads = min(max(1, args.threads), 16)

    loads = []
    for _ in range(5):
        started = time.perf_counter()
        ReferenceData.load()
        loads.append((time.perf_counter() - started) * 1000)

    rows: list[tuple[str, str]] = [
        ("reference data load (12 sites, 158 clusters, 939 nodes)",
         f"{statistics.median(loads):.1f} ms (median of 5)"),
    ]  # fmt: skip
    with G5kEmulator(users={USER: PASSWORD}, speed=0) as emu:
        started = time.perf_counter()
        with G5kEmulator(users={USER: PASSWORD}, speed=0):
            pass
        rows.append(("emulator start + stop", f"{(time.perf_counter() - started) * 1000:.1f} ms"))
        session = requests.Session()
        session.auth = (USER, PASSWORD)
        sites = [s for s, i in emu.testbed.ref.index.items() if i.hosts]
        jobs: list[tuple[str, int]] = []
        post_ms = []
        for i in range(posts):
            site = sites[i % len(sites)]
            body = {"resources": "nodes=1,walltime=1:00:00", "command": "sleep 1d", "name": f"b{i}"}
            url = f"{emu.url}/sites/{site}/jobs"
            started = time.perf_counter()
            response = session.post(url, json=body, timeout=10)
            post_ms.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            jobs.append((site, response.json()["uid"]))
        waiting = sum(
            1 for s, u in jobs[-len(sites):]
            if session.get(f"{emu.url}/sites/{s}/jobs/{u}", timeout=10).json()["state"] == "waiting"
        )  # fmt: skip
        get_ms = [
            timed(lambda s=s, u=u: session.get(f"{emu.url}/sites/{s}/jobs/{u}", timeout=10))
            for s, u in (jobs[i % len(jobs)] for i in range(gets))
        ]
        status_ms = [
            timed(lambda: session.get(f"{emu.url}/sites/nancy/clusters/gros/status", timeout=10))
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
        workers = [
            threading.Thread(target=worker, args=(n * 97, per_thread)) for n in range(threads)
        ]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        multi_rps = per_thread * threads / (time.perf_counter() - started)
        session.close()

    rows += [
        (f"POST job p50 / p99 ({posts} jobs, {waiting} of the last {len(sites)} queued)",
         f"{percentile(post_ms, 50):.2f} / {percentile(post_ms, 99):.2f} ms"),
        (f"GET job p50 / p99 ({gets} requests)",
         f"{percentile(get_ms, 50):.2f} / {percentile(get_ms, 99):.2f} ms"),
        ("GET cluster status p50 / p99 (nancy/gros, 124 nodes, 50 requests)",
         f"{percentile(status_ms, 50):.2f} / {percentile(status_ms, 99):.2f} ms"),
        ("GET job throughput, 1 client", f"{single_rps:.0f} req/s"),
        (f"GET job throughput, {threads} threads", f"{multi_rps:.0f} req/s"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
