"""The vagrant client's record of running commands: an orphan left by a killed bedform
is stopped by the next run, a live bedform's command never is."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bedform.providers.vagrant.client import VagrantClient, run


def sleeper(cwd) -> subprocess.Popen:
    """A process group standing for a `vagrant up` that runs on, in `cwd`."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=cwd,
                            start_new_session=True)


def dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_an_orphan_of_a_dead_run_is_killed(tmp_path):
    orphan = sleeper(tmp_path)
    try:
        (tmp_path / f"vagrant-{orphan.pid}.pid").write_text(f"{orphan.pid} {dead_pid()}\n")
        assert VagrantClient(tmp_path).stop_orphans() == [orphan.pid]
        assert orphan.wait(timeout=10) == -9
        assert not list(tmp_path.glob("vagrant-*.pid"))
    finally:
        orphan.kill()
        orphan.wait()


def test_a_live_runs_command_and_a_recycled_pid_are_left_alone(tmp_path):
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    mine, stranger = sleeper(tmp_path), sleeper(elsewhere)
    try:
        (tmp_path / f"vagrant-{mine.pid}.pid").write_text(f"{mine.pid} {os.getpid()}\n")
        (tmp_path / f"vagrant-{stranger.pid}.pid").write_text(f"{stranger.pid} {dead_pid()}\n")
        assert VagrantClient(tmp_path).stop_orphans() == []
        time.sleep(0.2)
        assert mine.poll() is None and stranger.poll() is None
        assert [p.name for p in tmp_path.glob("vagrant-*.pid")] == [f"vagrant-{mine.pid}.pid"]
    finally:
        for process in (mine, stranger):
            process.kill()
            process.wait()


def test_a_command_records_its_group_while_it_runs(tmp_path):
    seen = run([sys.executable, "-c", "import glob; print(glob.glob('vagrant-*.pid'))"],
               str(tmp_path), None, 30)
    assert "vagrant-" in seen
    assert not list(tmp_path.glob("vagrant-*.pid"))
