"""A disk that fills up in the middle of an apply (issue 17, item 5).

The stack lives on its own small tmpfs. The disk fills right before sshd starts, so sshd
cannot write its pid file and bedform cannot write its state: the error must name the
file, say that nothing was lost, and the next apply (space freed) must find and adopt
the sshd that runs without a pid file instead of failing forever on "Address already in
use". Uses 198.18.160.0/24.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedform.providers.local import ssh as local_ssh
from tests.local.conftest import root_only
from tests.local.support import ssh

pytestmark = [pytest.mark.root, root_only]


@contextlib.contextmanager
def small_disk(path: Path, size: str = "8m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "bedform-test", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the disk under `directory` is full."""
    filler = directory / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC
    # the last pages too: small writes until nothing fits
    with contextlib.suppress(OSError), open(filler, "ab", buffering=0) as out:
        while True:
            out.write(b"\0" * 512)
    return filler


def test_disk_full_while_sshd_starts_is_named_and_the_next_apply_adopts_it(
        local_stack, tmp_path: Path, monkeypatch) -> None:
    with small_disk(tmp_path / "full-0") as disk:
        stack = local_stack("full").write([{"roles": ["node"], "number": 1}],
                                          [{"id": "lan", "cidr": "198.18.160.0/24"}])
        filled: list[Path] = []
        real_start = local_ssh.system.start_sshd

        def start_on_a_full_disk(*args, **kwargs):
            filled.append(fill(disk))
            return real_start(*args, **kwargs)

        monkeypatch.setattr(local_ssh.system, "start_sshd", start_on_a_full_disk)
        failed = stack.run("apply", "--auto-approve")
        assert filled, "the apply never reached the sshd start"
        assert failed.exit_code == 1, failed.output
        assert "No space left on device" in failed.output, failed.output
        assert str(disk) in failed.output, failed.output          # names the file
        assert "nothing was lost" in failed.output.lower(), failed.output
        assert "Traceback" not in failed.output

        orphans = stack.leftovers()["processes"]
        assert len(orphans) == 1, orphans  # sshd runs, with no pid file

        monkeypatch.setattr(local_ssh.system, "start_sshd", real_start)
        os.unlink(filled[0])
        repaired = stack.apply()
        assert "Address already in use" not in repaired.output
        stack.assert_matches_state("after the repair apply")
        assert stack.attribute("here.sshd[node-1]", "pid") == orphans[0]  # adopted
        host = stack.hosts()["node-1"]
        assert ssh(host, "hostname").stdout.strip() == "node-1"
        assert "No changes" in stack.run("plan").output
        stack.destroy()
        assert not any(stack.leftovers().values())
