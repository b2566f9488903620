"""Rough edges a new user hits in the CLI (issue 17, item 10): a closed pipe, Ctrl-C at
the confirmation prompt, duplicate and misspelled keys, the help texts."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

from tests.engine.conftest import REPO, FakeStack, mutations


def cli(stack: FakeStack, *args: str) -> list[str]:
    return [sys.executable, "-m", "tests.fakecloud_cli", "-c", str(stack.file), *args]


ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def test_show_into_a_closed_pipe_exits_quietly(stack: FakeStack) -> None:
    stack.write(servers=[{"name": "web", "count": 300, "size": "small"}]).apply()
    process = subprocess.Popen(cli(stack, "show"), cwd=REPO, env=ENV,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"# ")   # `| head -1`
    process.stdout.close()
    assert process.wait(timeout=60) == 1
    assert process.stderr.read() == b""  # no "internal error", no traceback


def read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    """What the pty printed until `marker` appeared (bounded wait)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} within {seconds} s; got {seen!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_ctrl_c_at_the_confirmation_prompt_cancels_cleanly(stack: FakeStack) -> None:
    stack.write(servers=[{"name": "web", "count": 1, "size": "small"}])
    master, slave = pty.openpty()
    process = subprocess.Popen(cli(stack, "apply"), cwd=REPO, env=ENV, stdin=slave,
                               stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        read_until(master, b"Enter a value", 60)
        # `input()` prints the prompt, then blocks in read(): a SIGINT landing between
        # the two only sets Python's flag and the read goes on waiting (CPython's own
        # race, a person never hits it). A person presses Ctrl-C after seeing the
        # prompt, and again when nothing happens: so does the test.
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)   # what Ctrl-C sends
        try:
            rest = read_until(master, b"Nothing was changed.", 5)
        except AssertionError:
            process.send_signal(signal.SIGINT)
            rest = read_until(master, b"Nothing was changed.", 30)
        assert process.wait(timeout=30) == 1
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert b"Cancelled." in rest and b"internal error" not in rest
    assert mutations(stack) == 0


def test_duplicate_keys_are_refused_with_their_lines(stack: FakeStack) -> None:
    stack.write(servers=[{"name": "web", "count": 1, "size": "small"}])
    text = stack.file.read_text()
    stack.file.write_text(text + "name: other\n")
    result = stack.run("validate")
    assert result.exit_code == 1
    first = 1 + next(i for i, line in enumerate(text.splitlines())
                     if line.startswith("name:"))
    assert f"duplicate key 'name' at line {len(text.splitlines()) + 1} (first at line " \
        f"{first})" in result.output


def test_a_misspelled_key_names_the_nearest_known_one(stack: FakeStack) -> None:
    stack.write(servers=[])
    stack.file.write_text(stack.file.read_text().replace("providers:", "provider:"))
    result = stack.run("validate")
    assert result.exit_code == 1
    assert "unknown field 'provider'" in result.output
    assert "Did you mean 'providers'?" in result.output
    assert "missing required" not in result.output


def test_help_documents_parallelism_and_import_ids(stack: FakeStack) -> None:
    for command in ("apply", "destroy"):
        assert "At most this many operations at once" in stack.run(command, "--help").output
    text = stack.run("import", "--help").output
    assert "g5k_job" in text and "OAR job id" in text and "local_host" in text


def test_graph_shows_the_stack_when_nothing_changes(stack: FakeStack) -> None:
    stack.write(networks=[{"name": "lan", "cidr": "10.0.0.0/24"}],
                servers=[{"name": "web", "count": 1, "network": "lan"}]).apply()
    result = stack.run("graph")
    assert result.exit_code == 0, result.output
    assert '"fake.network[lan]" -> "fake.server[web-1]";' in result.output


def test_long_strings_are_shown_whole_in_the_plan(stack: FakeStack) -> None:
    image = "debian-" + "x" * 150 + "-end"
    stack.write(servers=[{"name": "web", "count": 1, "image": image}])
    assert image in stack.run("plan").output


def test_plan_wording_never_repeats_itself(stack: FakeStack) -> None:
    """Issue 17, item 10: no "deleted outside: deleted outside", no "(already gone)
    (reason: already gone)"."""
    stack.write(servers=[{"name": "web", "count": 2}]).apply()
    with stack.cloud.open() as data:
        data["objects"] = {k: o for k, o in data["objects"].items()
                           if not o["name"].endswith("fake.server[web-1]")}
    plan = stack.run("plan").output
    assert "(reason: deleted outside)" in plan and "deleted outside: deleted" not in plan
    destroy = stack.run("plan", "--destroy").output
    assert "will be forgotten (reason: already gone)" in destroy
    assert "(already gone) (reason" not in destroy
