"""The write-ahead journal of a state: one fsynced JSON line per change, beside the file.

Persisting each operation of an apply by rewriting the whole state costs O(resources)
per operation; appending the change to `state.journal` costs O(change). The store folds
the journal into `state.json` (one atomic rewrite, then the journal is removed) at the
end of a run, and on the next locked load when a killed run left one.

One line per change, each a JSON object::

    {"lineage": "...", "serial": 42, "ops": [OP, ...], "crc": "1a2b3c4d"}

where OP is `["put", address, record]`, `["remove", address]`, `["outputs", outputs]`,
`["providers", providers]` or `["stack", name]`. `serial` is the state's serial once
the change is applied, so replaying skips what the state file already holds and is
idempotent. `crc` is the CRC-32 of the line without its `"crc"` member, so a line cut
short, or damaged after it was written, is recognised as such.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from bedform.errors import StateError

JOURNAL_NAME = "state.journal"
_CRC_TAIL = len(',"crc":"00000000"}')
_sync_data = getattr(os, "fdatasync", os.fsync)
_ARITY = {"put": 3, "remove": 2, "outputs": 2, "providers": 2, "stack": 2}


def encode_entry(lineage: str, serial: int, ops: Sequence[str]) -> str:
    """One journal line from ops already serialised as JSON arrays."""
    body = f'{{"lineage":{json.dumps(lineage)},"serial":{serial},"ops":[{",".join(ops)}]}}'
    return f'{body[:-1]},"crc":"{zlib.crc32(body.encode()):08x}"}}\n'


def _decode_entry(line: bytes) -> dict[str, Any] | None:
    """The entry of a whole line (newline stripped), or None if it is damaged."""
    if len(line) <= _CRC_TAIL or not line.startswith(b"{"):
        return None
    body, tail = line[:-_CRC_TAIL] + b"}", line[-_CRC_TAIL:]
    if tail[:8] != b',"crc":"' or tail[-2:] != b'"}':
        return None
    try:
        if int(tail[8:16], 16) != zlib.crc32(body):
            return None
        entry = json.loads(body)
    except ValueError:
        return None
    if not (isinstance(entry, dict) and isinstance(entry.get("lineage"), str)
            and isinstance(entry.get("serial"), int) and isinstance(entry.get("ops"), list)):
        return None
    return entry


@attrs.frozen
class JournalContents:
    """What a journal file holds: its entries of one lineage and what was set aside."""

    entries: list[dict[str, Any]]
    valid_size: int  # bytes up to the end of the last whole line
    torn_bytes: int  # bytes of an incomplete last line, ignored
    foreign_lineages: frozenset[str]  # lineages of entries ignored as another state's

    @property
    def has_foreign(self) -> bool:
        """Whether some entries belong to another state."""
        return bool(self.foreign_lineages)


def read_journal(path: Path, lineage: str) -> JournalContents | None:
    """Parse the journal at `path` for the state `lineage`; None if there is no journal.

    An incomplete or damaged last line is a write cut short by a crash and is skipped;
    a damaged line followed by others is corruption and raises StateError.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read state journal {path}: {exc}") from exc
    entries: list[dict[str, Any]] = []
    foreign: set[str] = set()
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        entry = _decode_entry(data[start:end]) if end >= 0 else None
        if entry is None:
            if end >= 0 and data[end + 1:].strip():
                raise StateError(f"state journal {path} is damaged at byte {start}: the "
                                 "change recorded there cannot be read",
                                 hint=damaged_journal_hint(path))
            break
        if entry["lineage"] == lineage:
            entries.append(entry)
        else:
            foreign.add(entry["lineage"])
        start = end + 1
    return JournalContents(entries, start, len(data[start:].strip()), frozenset(foreign))


def _readable(op: Any) -> bool:
    """Whether `op` is an operation of a known kind with arguments of the right shape."""
    return (isinstance(op, list) and bool(op) and isinstance(op[0], str)
            and _ARITY.get(op[0]) == len(op)
            and (op[0] not in ("put", "remove") or isinstance(op[1], str)))


def apply_entries(document: dict[str, Any], entries: Sequence[dict[str, Any]],
                  path: Path) -> int:
    """Replay `entries` (read from `path`) newer than the document's serial onto it;
    returns how many.

    The document is a parsed state file (mutated in place); replaying twice changes
    nothing the second time.
    """
    applied = 0
    for entry in entries:
        if entry["serial"] <= document["serial"]:
            continue
        resources = document["resources"]
        for op in entry["ops"]:
            if not _readable(op):
                raise StateError(f"state journal entry {entry['serial']} has an operation "
                                 f"this bedform cannot read: {json.dumps(op)[:80]}",
                                 hint="If a newer bedform wrote it, use that one; "
                                 "otherwise: " + damaged_journal_hint(path))
            if op[0] == "put":
                resources[op[1]] = op[2]
            elif op[0] == "remove":
                resources.pop(op[1], None)
            else:
                document[op[0]] = op[1]
        document["serial"] = entry["serial"]
        applied += 1
    return applied


class JournalWriter:
    """Appends lines to a journal file; each `sync` returns once its line is on disk.

    Lines staged while one thread writes and fsyncs are written by the next one
    together (group commit), so many concurrent operations share few fsyncs.
    """

    def __init__(self, path: Path, keep_bytes: int) -> None:
        created = not path.exists()
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.fchmod(self._fd, 0o600)
        os.ftruncate(self._fd, keep_bytes)  # drop an incomplete last line, if any
        os.lseek(self._fd, keep_bytes, os.SEEK_SET)
        if created:
            fsync_dir(path.parent)
        self._pending: list[str] = []
        self._staged = 0
        self._synced = 0
        self._writing = False
        self._failure: BaseException | None = None
        self._done = threading.Condition(threading.Lock())

    def stage(self, line: str) -> int:
        """Queue a line (in order); returns the ticket to pass to `sync`."""
        with self._done:
            self._pending.append(line)
            self._staged += 1
            return self._staged

    def sync(self, ticket: int) -> None:
        """Return once the line of `ticket` (and every line before it) is on disk.

        The first caller writes everything staged so far; the others wait for it, then
        either find their line written or write the next batch.
        """
        with self._done:
            while self._synced < ticket:
                if self._failure is not None:
                    raise StateError(
                        f"cannot append to the state journal {self.path}: "
                        f"{self._failure!r}",
                        hint="The state file and the journal hold every change before "
                        "this one; fix the cause and run `bedform apply` again.",
                    ) from self._failure
                if self._writing:
                    self._done.wait()
                    continue
                self._writing = True
                lines, self._pending, last = self._pending, [], self._staged
                self._done.release()
                try:
                    self._write("".join(lines).encode())
                except BaseException as exc:  # the lines are lost: no later sync may pass
                    self._failure = exc
                    if not isinstance(exc, OSError):
                        raise
                finally:
                    self._done.acquire()
                    self._writing = False
                    self._done.notify_all()
                if self._failure is None:
                    self._synced = last

    def _write(self, data: bytes) -> None:
        while data:
            data = data[os.write(self._fd, data):]
        _sync_data(self._fd)

    def close(self) -> None:
        """Write what is staged, then stop appending."""
        if self._failure is None:
            self.sync(self._staged)
        self._stop()

    def discard(self) -> None:
        """Stop appending and remove the journal: the state file holds all it staged."""
        self._stop()
        remove_journal(self.path)

    def _stop(self) -> None:
        with self._done:
            while self._writing:
                self._done.wait()
            self._pending = []
            self._synced = self._staged  # what was staged is in the state file now
            self._done.notify_all()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def damaged_journal_hint(path: Path) -> str:
    """What to do with a journal that cannot be replayed."""
    return (f"Move {path} aside to drop the changes recorded since the last complete "
            "run; the next `bedform apply` finds the objects they created by their "
            "identity and adopts them.")


def remove_journal(path: Path) -> None:
    """Delete a folded journal, durably."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (a rename, a new or removed file) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
