"""The /_emulator/ control endpoints, fault injection and the command-line runner."""

import io
import threading
import time

import pytest
import requests
from grid5000 import Grid5000
from grid5000.exceptions import Grid5000CreateError

from bedform.emulators.g5k import G5kEmulator, run_cli
from bedform.emulators.g5k.testing import TEST_EPOCH


def control(emu, verb, what, **body):
    return requests.request(verb, f"{emu.base_url}/_emulator/{what}", json=body or None, timeout=5)


def test_clock(g5k_emulator):
    assert control(g5k_emulator, "GET", "clock").json() == {
        "now": TEST_EPOCH,
        "speed": 0.0,
        "paris": "2026-04-01 12:00:00",
    }
    assert control(g5k_emulator, "POST", "clock", advance=90).json()["now"] == TEST_EPOCH + 90
    control(g5k_emulator, "POST", "clock", speed=1000)
    time.sleep(0.05)
    now = control(g5k_emulator, "GET", "clock").json()["now"]
    assert now >= TEST_EPOCH + 90 + 40
    r = control(g5k_emulator, "POST", "clock", advance=-5)
    assert r.status_code == 400 and "backwards" in r.text


def test_request_log(g5k_emulator, g5k_client):
    g5k_client.sites["rennes"].jobs.list(state="running")
    with pytest.raises(Grid5000CreateError):
        g5k_client.sites["rennes"].jobs.create({"resources": "nodes=1"})
    items = control(g5k_emulator, "GET", "requests").json()["items"]
    assert [(i["method"], i["path"], i["status"]) for i in items] == [
        ("GET", "/stable/sites/rennes", 200),
        ("GET", "/stable/sites/rennes/jobs", 200),
        ("GET", "/stable/sites/rennes", 200),
        ("POST", "/stable/sites/rennes/jobs", 400),
    ]
    assert items[1]["query"] == {"state": "running"}
    assert items[0]["time"] == TEST_EPOCH
    assert control(g5k_emulator, "DELETE", "requests").status_code == 204
    assert control(g5k_emulator, "GET", "requests").json() == {"total": 0, "items": [],
                                                               "inflight": 0}
    assert g5k_emulator.requests() == []


def test_503_twice_on_job_submission(g5k_emulator, g5k_client):
    fault = control(
        g5k_emulator, "POST", "faults", method="POST", path=r"/sites/[^/]+/jobs$", status=503,
        count=2, message="Service Unavailable",
    )  # fmt: skip
    assert fault.status_code == 201 and fault.json()["count"] == 2
    site = g5k_client.sites["rennes"]
    body = {"resources": "nodes=1", "command": "sleep 1d"}
    for _ in range(2):
        with pytest.raises(Grid5000CreateError, match="503: Service Unavailable"):
            site.jobs.create(body)
    job = site.jobs.create(body)
    assert job.uid == 1_000_001
    assert control(g5k_emulator, "GET", "faults").json()["items"] == []
    statuses = [i["status"] for i in g5k_emulator.requests() if i["method"] == "POST"]
    assert statuses == [503, 503, 201]


def test_latency(g5k_emulator_factory):
    slow = g5k_emulator_factory(latency_ms=50)
    started = time.perf_counter()
    requests.get(slow.url + "/sites/rennes", timeout=5)
    assert time.perf_counter() - started >= 0.05
    fast = g5k_emulator_factory()
    fast.add_fault(path="/sites/lyon$", latency_ms=80, count=1)
    started = time.perf_counter()
    assert requests.get(fast.url + "/sites/lyon", timeout=5).status_code == 200
    assert time.perf_counter() - started >= 0.08
    started = time.perf_counter()
    requests.get(fast.url + "/sites/lyon", timeout=5)
    assert time.perf_counter() - started < 0.08
    assert fast.requests()[0]["duration_ms"] >= 80


def test_job_error_faults(g5k_emulator, g5k_client):
    site = g5k_client.sites["rennes"]
    control(g5k_emulator, "POST", "faults", kind="job_error", name="^doomed$")
    doomed = site.jobs.create({"resources": "nodes=1", "command": "x", "name": "doomed"})
    assert doomed.state == "error"
    assert doomed.events[-1]["type"] == "SWITCH_INTO_ERROR_STATE"
    fine = site.jobs.create({"resources": "nodes=1", "command": "x", "name": "doomed"})
    assert fine.state == "launching"
    r = control(g5k_emulator, "POST", "faults", kind="job_error", site="rennes", job=fine.uid)
    assert r.status_code == 201
    fine.refresh()
    assert fine.state == "error"
    r = control(g5k_emulator, "POST", "faults", kind="bogus")
    assert r.status_code == 400


def test_dead_nodes(g5k_emulator, g5k_client):
    r = control(g5k_emulator, "POST", "nodes", nodes=["parasilo-1.rennes.grid5000.fr"], hard="dead")
    assert r.status_code == 200
    site = g5k_client.sites["rennes"]
    status = site.clusters["parasilo"].status.list()
    assert status.nodes["parasilo-1.rennes.grid5000.fr"]["hard"] == "dead"
    assert status.nodes["parasilo-1.rennes.grid5000.fr"]["soft"] == "unknown"
    job = site.jobs.create({"resources": "{cluster='parasilo'}/nodes=1", "command": "x"})
    assert job.assigned_nodes == ["parasilo-2.rennes.grid5000.fr"]
    with pytest.raises(Grid5000CreateError, match="not enough resources"):
        site.jobs.create({"resources": "{cluster='parasilo'}/nodes=25", "command": "x"})
    g5k_emulator.set_node_state(["parasilo-1.rennes.grid5000.fr"], "alive")
    assert (
        site.clusters["parasilo"].status.list().nodes["parasilo-1.rennes.grid5000.fr"]["hard"]
        == "alive"
    )


def test_reset(g5k_emulator, g5k_client):
    site = g5k_client.sites["rennes"]
    site.jobs.create({"resources": "nodes=1", "command": "x"})
    g5k_emulator.add_fault(path="/nothing", status=500)
    r = control(g5k_emulator, "POST", "reset", epoch=TEST_EPOCH + 10)
    assert r.json()["now"] == TEST_EPOCH + 10
    assert site.jobs.list() == []
    assert control(g5k_emulator, "GET", "faults").json()["items"] == []
    assert site.jobs.create({"resources": "nodes=1", "command": "x"}).uid == 1_000_001
    assert control(g5k_emulator, "GET", "nope").status_code == 404


def test_context_manager_stops_on_error():
    session = requests.Session()
    with pytest.raises(RuntimeError), G5kEmulator(speed=0) as emu:
        url = emu.url
        assert session.get(url + "/sites", timeout=2).status_code == 200
        raise RuntimeError("boom")
    # Neither new nor kept-alive connections are served after the stop.
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/sites", timeout=2)
    with pytest.raises(requests.ConnectionError):
        session.get(url + "/sites", timeout=2)
    session.close()


def test_write_client_config(g5k_emulator, tmp_path):
    path = g5k_emulator.write_client_config(tmp_path / "g5k.yaml", user="bob")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    client = Grid5000.from_yaml(str(path))
    assert client.username == "bob"
    assert client.sites["rennes"].uid == "rennes"


def test_run_cli(tmp_path):
    out = io.StringIO()
    stop = threading.Event()
    config = tmp_path / "emulator.yaml"
    thread = threading.Thread(
        target=run_cli,
        kwargs={"port": 0, "speed": 10.0, "latency_ms": 0.0, "users": ["carol:secret"],
                "config_path": config, "out": out, "stop_event": stop},
    )  # fmt: skip
    thread.start()
    try:
        for _ in range(100):
            if "Press Ctrl-C" in out.getvalue():
                break
            time.sleep(0.02)
        text = out.getvalue()
        assert f"export BEDFORM_G5K_CONFIG={config.resolve()}" in text
        client = Grid5000.from_yaml(str(config))
        assert client.username == "carol"
        job = client.sites["rennes"].jobs.create({"resources": "nodes=1", "command": "x"})
        assert job.user == "carol"
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert out.getvalue().rstrip().endswith("Emulator stopped.")
