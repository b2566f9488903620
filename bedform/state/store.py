"""The state document: one JSON file per stack, written atomically.

Layout of a state directory (default `.bedform/` beside the stack file)::

    state.json        the current state (mode 0600)
    backups/          the state as it was before each of the last runs that changed it
    state.lock        flock target; state.lock.json holds the holder's info

`serial` is bumped only when the content (resources, outputs) changes; `lineage` is
fixed when the state is created. Writes go to a temporary file that is fsynced, renamed
over the old one, then the directory is fsynced, so a crash leaves either the old or the
new document, never a torn one.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

from bedform.errors import StateError
from bedform.state.model import Record, Status

FORMAT = "bedform-state"
FORMAT_VERSION = 1
BACKUPS_KEPT = 10
_RECORD_FIELDS = ("kind", "provider", "status", "inputs", "attributes", "dependencies",
                  "identity", "created_at", "updated_at", "expires_at")


@attrs.define
class State:
    """In-memory state: records by address plus the outputs (roles, networks)."""

    lineage: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    stack: str = ""
    providers: dict[str, str] = attrs.field(factory=dict)
    resources: dict[str, Record] = attrs.field(factory=dict)
    outputs: dict[str, Any] = attrs.field(factory=dict)

    @property
    def stack_id(self) -> str:
        """Short id unique to this stack, used to name remote objects."""
        return self.lineage.replace("-", "")[:8]

    def content(self) -> dict[str, Any]:
        """The part of the document whose change bumps the serial."""
        return {
            "stack": self.stack,
            "providers": self.providers,
            "resources": {
                address: record_to_dict(record)
                for address, record in sorted(self.resources.items())
            },
            "outputs": self.outputs,
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole JSON document."""
        return {"format": FORMAT, "version": FORMAT_VERSION, "lineage": self.lineage,
                "serial": self.serial, **self.content()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        """Parse a document; raises KeyError/TypeError/ValueError on a malformed one."""
        resources = {
            address: record_from_dict(address, item)
            for address, item in data["resources"].items()
        }
        return cls(lineage=data["lineage"], serial=int(data["serial"]),
                   stack=data.get("stack", ""), providers=data.get("providers", {}),
                   resources=resources,
                   outputs=data.get("outputs", {}))

    def copy(self) -> State:
        """A deep copy, safe to mutate."""
        return State.from_dict(json.loads(json.dumps(self.to_dict())))


_RECORD_TYPES: dict[str, tuple[type, ...]] = {
    "kind": (str,), "provider": (str,), "status": (str,), "inputs": (dict,),
    "attributes": (dict,), "dependencies": (list,), "identity": (dict,),
    "created_at": (int, float, type(None)), "updated_at": (int, float, type(None)),
    "expires_at": (int, float, type(None)),
}


def document_problem(data: dict[str, Any]) -> str:
    """What is wrong with the shape of a state document, as `path: problem`; "" if fine."""
    top = {"lineage": (str,), "serial": (int,), "stack": (str,), "providers": (dict,),
           "resources": (dict,), "outputs": (dict,)}
    for key, types in top.items():
        if key not in data and key in ("stack", "providers", "outputs"):
            continue
        if key not in data:
            return f"{key}: missing"
        if not isinstance(data[key], types) or isinstance(data[key], bool):
            return f"{key}: expected {types[0].__name__}, found {type(data[key]).__name__}"
    for name, value in data.get("providers", {}).items():
        if not isinstance(value, str):
            return f"providers.{name}: expected a provider type name"
    for address, record in data["resources"].items():
        if not isinstance(record, dict):
            return f"resources.{address}: expected an object"
        for key, types in _RECORD_TYPES.items():
            if key in ("kind", "provider") and key not in record:
                return f"resources.{address}.{key}: missing"
            if key in record and not isinstance(record[key], types):
                return (f"resources.{address}.{key}: expected {types[0].__name__}, "
                        f"found {type(record[key]).__name__}")
        if record.get("status", "ready") not in {s.value for s in Status}:
            return f"resources.{address}.status: unknown status {record['status']!r}"
        if not all(isinstance(d, str) for d in record.get("dependencies", [])):
            return f"resources.{address}.dependencies: expected addresses"
    outputs = data.get("outputs", {})
    for key in ("roles", "networks"):
        if key not in outputs:
            continue
        if not isinstance(outputs[key], dict):
            return f"outputs.{key}: expected an object"
        for role, members in outputs[key].items():
            if not isinstance(members, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("address"), str)
                    for m in members):
                return f"outputs.{key}.{role}: expected a list of objects with an address"
    return ""


def record_to_dict(record: Record) -> dict[str, Any]:
    """JSON form of a record (the address is the key around it)."""
    return {name: getattr(record, name) for name in _RECORD_FIELDS}


def record_from_dict(address: str, data: dict[str, Any]) -> Record:
    """Inverse of `record_to_dict`."""
    fields = {name: data[name] for name in _RECORD_FIELDS if name in data}
    fields["status"] = Status(fields.get("status", Status.READY))
    return Record(address=address, **fields)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    _fsync_dir(path.parent)


class StateStore:
    """Reads and writes the state of one stack in `directory`."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "state.json"
        self.backup_dir = self.directory / "backups"
        self._saved_content: str | None = None
        self._record_texts: dict[str, str] = {}
        self._backed_up = False
        self._write_lock = threading.Lock()

    def exists(self) -> bool:
        """Whether a state document has been written."""
        return self.path.exists()

    def load(self) -> State:
        """The current state, or a fresh empty one (not yet written) if none exists."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return State()
        except UnicodeDecodeError:
            raise StateError(f"state file {self.path} is not UTF-8 text; it is corrupt",
                             hint=self._recovery_hint()) from None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from exc
        data, state = self._parse(text)
        self._saved_content = _canonical(
            {"stack": data.get("stack", ""), "providers": data.get("providers", {}),
             "resources": data["resources"], "outputs": data.get("outputs", {})})
        return state

    def _parse(self, text: str) -> tuple[dict[str, Any], State]:
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
        try:
            return data, State.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"state file {self.path} is malformed ({exc!r})",
                             hint=self._recovery_hint()) from None

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
        """Persist `state` if its content changed; bumps `serial`. Returns whether written."""
        with self._write_lock:
            document = self.prepare(state)
            if document is not None:
                self.commit(document)
            return document is not None

    def prepare(self, state: State, dirty: Iterable[str] | None = None) -> str | None:
        """Serialise `state` for `commit`, bumping its serial; None if nothing changed.

        With `dirty`, only those records are serialised again; the others come from the
        cache of the previous call (a big state costs little per small change). Call it
        while no other thread mutates `state`; `commit` may then run unlocked.
        """
        content = self._content_text(state, dirty)
        if content == self._saved_content:
            return None
        self._saved_content = content
        state.serial += 1
        header = json.dumps({"format": FORMAT, "version": FORMAT_VERSION,
                             "lineage": state.lineage, "serial": state.serial})
        # One serialisation serves both the comparison and the file: splice the
        # header's fields in front of the (already sorted) content object.
        return f"{header[:-1]}, {content[1:]}\n"

    def _content_text(self, state: State, dirty: Iterable[str] | None) -> str:
        """`_canonical(state.content())`, reusing cached record texts outside `dirty`."""
        cache = self._record_texts
        if dirty is None:
            cache.clear()
        else:
            for address in dirty:
                cache.pop(address, None)
        resources = state.resources
        parts = []
        for address in sorted(resources):
            text = cache.get(address)
            if text is None:
                text = cache[address] = _canonical(record_to_dict(resources[address]))
            parts.append(f"{json.dumps(address)}:{text}")
        for address in set(cache) - set(resources):
            del cache[address]
        return (f'{{"outputs":{_canonical(state.outputs)},'
                f'"providers":{_canonical(state.providers)},'
                f'"resources":{{{",".join(parts)}}},"stack":{json.dumps(state.stack)}}}')

    def commit(self, document: str) -> None:
        """Write a document made by `prepare`, atomically."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self._backed_up:
            self._backup()
        write_atomically(self.path, document)

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
        """Hold the stack's lock for the duration of `operation`."""
        from bedform.state.lock import StateLock

        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with StateLock(self.directory, operation, timeout):
            yield


def _canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"))


class StateWriter:
    """Serialises changes to a State from many threads and persists each one.

    `change(fn)` applies `fn` to the state and returns once a write covering it is on
    disk. Writers that arrive while a write is in progress share the next one (group
    commit), so many concurrent operations cost few writes.
    """

    def __init__(self, store: StateStore, state: State) -> None:
        self.store = store
        self.state = state
        self._mutex = threading.Lock()
        self._io = threading.Lock()
        self._generation = 0
        self._written = 0
        self._dirty: set[str] | None = None  # None: everything must be serialised again

    def change(self, mutate: Callable[[State], None], *addresses: str) -> None:
        """Apply `mutate` to the state and persist it before returning.

        `addresses` names the records `mutate` touches; without them every record is
        serialised again.
        """
        with self._mutex:
            mutate(self.state)
            self._generation += 1
            target = self._generation
            if addresses and self._dirty is not None:
                self._dirty.update(addresses)
            else:
                self._dirty = None
        with self._io:
            if self._written >= target:
                return
            with self._mutex:
                generation = self._generation
                document = self.store.prepare(self.state, self._dirty)
                self._dirty = set()
            if document is not None:
                self.store.commit(document)
            self._written = generation

    def read(self, fn: Callable[[State], Any]) -> Any:
        """Run `fn` on the state while no change is in progress."""
        with self._mutex:
            return fn(self.state)
