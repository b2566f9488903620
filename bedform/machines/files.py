"""Private files and directories written atomically (keys, configurations, pid files)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def remove_file(path: str | Path) -> None:
    """Unlink `path`; absent counts as done."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def private_dir(path: Path) -> None:
    """Create `path` and every missing parent as 0700 directories, whatever the umask."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        os.chmod(directory, 0o700)


def replace_file(path: Path, text: str, mode: int) -> None:
    """Write `text` to `path` with `mode` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_file(path: Path, text: str, mode: int = 0o600) -> None:
    """`replace_file` inside a private directory created as needed."""
    private_dir(path.parent)
    replace_file(path, text, mode)
