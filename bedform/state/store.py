"""The state of a stack on disk: one JSON file written atomically, plus its journal.

Layout of a state directory (default `.bedform/` beside the stack file)::

    state.json        the current state (mode 0600)
    state.journal     changes since state.json was last written (mode 0600), if any
    backups/          the state as it was before each of the last runs that changed it
    state.lock        flock target; state.lock.json holds the holder's info

`serial` is bumped only when the content (resources, outputs) changes; `lineage` is
fixed when the state is created. Whole writes go to a temporary file that is fsynced,
renamed over the old one, then the directory is fsynced, so a crash leaves either the
old or the new document, never a torn one. During a run each change is appended to the
journal (see `bedform.state.journal`) and folded into the file at its end.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import attrs

from bedform.errors import StateError
from bedform.state.document import (
    FORMAT,
    FORMAT_VERSION,
    State,
    canonical,
    document_problem,
    record_to_dict,
)
from bedform.state.journal import (
    JOURNAL_NAME,
    JournalContents,
    JournalWriter,
    apply_entries,
    damaged_journal_hint,
    encode_entry,
    fsync_dir,
    read_journal,
    remove_journal,
)

__all__ = ["State", "StateStore", "StateWriter", "record_to_dict", "write_atomically"]

logger = logging.getLogger(__name__)

BACKUPS_KEPT = 10


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    """Write `text` to `path` so that readers see the old or the new file, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


@attrs.define
class _Persisted:
    """What the state file and the journal hold together, each record as its JSON text."""

    lineage: str
    serial: int
    records: dict[str, str]
    outputs: str
    providers: str
    stack: str

    @classmethod
    def of(cls, state: State) -> _Persisted:
        return cls(state.lineage, state.serial,
                   {address: canonical(record_to_dict(record))
                    for address, record in state.resources.items()},
                   canonical(state.outputs), canonical(state.providers),
                   json.dumps(state.stack))

    def same_content(self, other: _Persisted) -> bool:
        """Whether both describe the same state, whatever their serials."""
        return (self.lineage, self.records, self.outputs, self.providers, self.stack) == (
            other.lineage, other.records, other.outputs, other.providers, other.stack)

    def document(self) -> str:
        """The state file's text: header, then the content with its keys sorted."""
        header = json.dumps({"format": FORMAT, "version": FORMAT_VERSION,
                             "lineage": self.lineage, "serial": self.serial})
        resources = ",".join(f"{json.dumps(address)}:{self.records[address]}"
                             for address in sorted(self.records))
        return (f'{header[:-1]}, "outputs":{self.outputs},"providers":{self.providers},'
                f'"resources":{{{resources}}},"stack":{self.stack}}}\n')


class StateStore:
    """Reads and writes the state of one stack in `directory`.

    Between full writes, changes are appended to the journal (`stage`); `fold` writes
    them into the state file. A locked run folds when it ends, and folds what a killed
    run left when it loads.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "state.json"
        self.journal_path = self.directory / JOURNAL_NAME
        self.backup_dir = self.directory / "backups"
        self._persisted: _Persisted | None = None  # None: not loaded, or no file yet
        self._journal: JournalWriter | None = None
        self._journal_read = False  # load read the journal on disk and it is ours
        self._journal_keep = 0  # bytes of it to keep when appending (its whole lines)
        self._unfolded = False  # the journal holds changes the state file lacks
        self._backed_up = False
        self._locked = False
        self._lock = threading.RLock()

    def exists(self) -> bool:
        """Whether a state document has been written."""
        return self.path.exists()

    def load(self) -> State:
        """The current state, or a fresh empty one (not yet written) if none exists.

        A journal left by a killed run is replayed; under `locked` it is also folded
        into the state file (without the lock nothing is written).
        """
        with self._lock:
            if self._journal is not None:
                self._journal.close()
            self._persisted, self._journal, self._unfolded = None, None, False
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                text = None
            except UnicodeDecodeError:
                raise StateError(f"state file {self.path} is not UTF-8 text; it is corrupt",
                                 hint=self._recovery_hint()) from None
            except OSError as exc:
                raise StateError(f"cannot read state file {self.path}: {exc}") from exc
            data = self._parse(text) if text is not None else None
            contents = read_journal(self.journal_path, data["lineage"] if data else "")
            replayed = 0
            if contents is not None and data is not None:
                replayed = apply_entries(data, contents.entries, self.journal_path)
                problem = document_problem(data) if replayed else ""
                if problem:
                    raise StateError(f"state journal {self.journal_path} is malformed: "
                                     f"{problem}", hint=damaged_journal_hint(self.journal_path))
            state = self._state_of(data) if data is not None else State()
            self._persisted = _Persisted.of(state) if data is not None else None
            self._unfolded = replayed > 0
            self._journal_read = contents is not None and not contents.has_foreign
            self._journal_keep = (contents.valid_size
                                  if contents is not None and self._journal_read else 0)
            if contents is not None:
                self._after_replay(contents, state.lineage)
            return state

    def _after_replay(self, contents: JournalContents, lineage: str) -> None:
        """Warn about what replay ignored; when locked, fold and retire the journal."""
        if contents.has_foreign and not self._locked:
            logger.warning("state journal %s belongs to another state (lineage %s, not %s): "
                           "ignored", self.journal_path,
                           ", ".join(sorted(contents.foreign_lineages)), lineage)
        if not self._locked:
            return
        if contents.torn_bytes:
            logger.warning("state journal %s ends with an incomplete change (%d bytes) cut "
                           "short by a crash: dropped; the next apply redoes or adopts that "
                           "operation", self.journal_path, contents.torn_bytes)
        self.fold()
        self._retire_journal()
        self._backed_up = False  # the run itself backs up the folded state it changes

    def _state_of(self, data: dict[str, Any]) -> State:
        try:
            return State.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"state file {self.path} is malformed ({exc!r})",
                             hint=self._recovery_hint()) from None

    def _parse(self, text: str) -> dict[str, Any]:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StateError(
                f"state file {self.path} is not valid JSON ({exc}); it may be truncated",
                hint=self._recovery_hint(),
            ) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise StateError(f"{self.path} is not a bedform state file",
                             hint=self._recovery_hint())
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise StateError(
                f"state file {self.path} has format version {version!r}; this bedform "
                f"reads version {FORMAT_VERSION}",
                hint="Use the bedform release that wrote it, or upgrade bedform.",
            )
        problem = document_problem(data)
        if problem:
            raise StateError(f"state file {self.path} is malformed: {problem}",
                             hint=self._recovery_hint())
        return data

    def _recovery_hint(self) -> str:
        backups = self.backups()
        if not backups:
            return "No backup exists. Nothing was overwritten; fix or move the file aside."
        return (f"Nothing was overwritten. The latest backup is {backups[-1]}: inspect it "
                f"and copy it over {self.path} to restore it.")

    def backups(self) -> list[Path]:
        """Backup files, oldest first."""
        if not self.backup_dir.is_dir():
            return []
        return sorted(self.backup_dir.glob("state-*.json"), key=lambda p: p.stat().st_mtime_ns)

    def save(self, state: State) -> bool:
        """Persist `state` whole if its content changed; bumps `serial`. Returns whether
        written. Any journal is folded by the same write."""
        with self._lock:
            persisted = _Persisted.of(state)
            if self._persisted is not None and persisted.same_content(self._persisted):
                return False
            state.serial += 1
            persisted.serial = state.serial
            self._write(persisted)
            self._retire_journal()
            return True

    def stage(self, state: State, addresses: Collection[str] = ()) -> Callable[[], None] | None:
        """Journal what changed in `state` since it was persisted; bumps `serial` if any.

        With `addresses`, only those records are compared (the caller vouches that
        nothing else changed); without, every record and the outputs are. Returns the
        wait that makes the change durable (None: nothing to wait for). Call it while no
        other thread mutates `state`; the wait may run unlocked, and concurrent waits
        share one fsync.
        """
        with self._lock:
            persisted = self._persisted
            if persisted is None or persisted.lineage != state.lineage:
                self.save(state)  # no state file yet: the journal needs one to extend
                return None
            ops = self._changed_ops(persisted, state, addresses)
            if not ops:
                return None
            state.serial += 1
            persisted.serial = state.serial
            if self._journal is None:
                if self.journal_path.exists() and not self._journal_read:
                    self._set_journal_aside()
                self._journal = JournalWriter(self.journal_path, self._journal_keep)
            self._unfolded = True
            ticket = self._journal.stage(encode_entry(persisted.lineage, persisted.serial, ops))
            return functools.partial(self._journal.sync, ticket)

    @staticmethod
    def _changed_ops(persisted: _Persisted, state: State,
                     addresses: Collection[str]) -> list[str]:
        """The journal ops turning `persisted` into `state`, applied to `persisted`."""
        ops = []
        records = persisted.records
        for address in addresses or sorted(set(records) | set(state.resources)):
            record = state.resources.get(address)
            name = json.dumps(address)
            if record is None:
                if records.pop(address, None) is not None:
                    ops.append(f'["remove",{name}]')
                continue
            text = canonical(record_to_dict(record))
            if records.get(address) != text:
                records[address] = text
                ops.append(f'["put",{name},{text}]')
        if not addresses:
            for field, text in (("outputs", canonical(state.outputs)),
                                ("providers", canonical(state.providers)),
                                ("stack", json.dumps(state.stack))):
                if getattr(persisted, field) != text:
                    setattr(persisted, field, text)
                    ops.append(f'["{field}",{text}]')
        return ops

    def fold(self) -> None:
        """Write what the journal adds into the state file (atomically), then remove it.

        A crash in between leaves a journal whose entries the new file already holds:
        replaying it changes nothing.
        """
        with self._lock:
            if not self._unfolded or self._persisted is None:
                return
            try:
                self._write(self._persisted)
            except OSError as exc:
                raise StateError(
                    f"cannot write state file {self.path}: {exc}",
                    hint=f"Nothing was lost: the changes are safe in {self.journal_path}, and "
                    "the next run replays them once the file can be written (free space or "
                    "fix the permission, then run the command again).") from exc
            self._unfolded = False
            self._retire_journal()

    def _retire_journal(self) -> None:
        """Remove the journal once the state file holds everything it recorded."""
        journal, self._journal = self._journal, None
        if journal is not None:
            journal.discard()
        elif self._journal_read:
            remove_journal(self.journal_path)
        elif self.journal_path.exists():
            self._set_journal_aside()
        self._journal_read, self._journal_keep = False, 0

    def _set_journal_aside(self) -> None:
        """Keep a journal that is not this state's in the backups, out of the way."""
        self.backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = self.backup_dir / f"journal-{time.strftime('%Y%m%dT%H%M%S')}-" \
                                   f"{uuid.uuid4().hex[:6]}.ignored"
        os.replace(self.journal_path, target)
        fsync_dir(self.directory)
        logger.warning("state journal %s does not belong to the state %s: ignored and "
                       "moved to %s", self.journal_path, self.path, target)

    def _write(self, persisted: _Persisted) -> None:
        """Write the whole state file atomically, backing up the previous one first."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self._backed_up:
            self._backup()
        write_atomically(self.path, persisted.document())
        self._persisted = persisted

    def _backup(self) -> None:
        """Keep the file as it was before this run's first write (hard link: no copy)."""
        self._backed_up = True
        if not self.path.exists():
            return
        self.backup_dir.mkdir(exist_ok=True, mode=0o700)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = self.backup_dir / f"state-{stamp}-{uuid.uuid4().hex[:6]}.json"
        os.link(self.path, target)
        for old in self.backups()[:-BACKUPS_KEPT]:
            old.unlink()

    @contextlib.contextmanager
    def locked(self, operation: str, timeout: float = 0.0) -> Iterator[None]:
        """Hold the stack's lock for the duration of `operation`; fold the journal at
        the end, whether the operation succeeded or not."""
        from bedform.state.lock import StateLock

        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with StateLock(self.directory, operation, timeout):
            self._locked = True
            try:
                yield
            except BaseException:
                self._fold_after_failure()
                raise
            else:
                self.fold()
            finally:
                self._locked = False

    def _fold_after_failure(self) -> None:
        try:
            self.fold()
        except StateError as exc:  # the operation's own error is the one to report
            logger.warning("%s", exc)  # its hint is part of the text


class StateWriter:
    """Serialises changes to a State from many threads and persists each one.

    `change(fn)` applies `fn` to the state and returns once the change is in the journal
    on disk. Writers whose changes arrive while another waits for the disk share its
    next fsync (group commit), so many concurrent operations cost few writes.
    """

    def __init__(self, store: StateStore, state: State) -> None:
        self.store = store
        self.state = state
        self._mutex = threading.Lock()

    def change(self, mutate: Callable[[State], object], *addresses: str) -> None:
        """Apply `mutate` to the state and persist it before returning.

        `addresses` names the records `mutate` touches; without them every record and
        the outputs are compared with what is persisted.
        """
        with self._mutex:
            mutate(self.state)
            wait = self.store.stage(self.state, addresses)
        if wait is not None:
            wait()

    def read(self, fn: Callable[[State], Any]) -> Any:
        """Run `fn` on the state while no change is in progress."""
        with self._mutex:
            return fn(self.state)
