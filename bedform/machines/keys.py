"""SSH key pairs generated with ssh-keygen, safe against a run killed half-way."""

from __future__ import annotations

import os
from pathlib import Path

from bedform.machines.commands import run, which
from bedform.machines.errors import MachineError
from bedform.machines.files import private_dir, remove_file, replace_file


def ensure_keypair(path: Path, comment: str) -> str:
    """An ed25519 key pair at `path` (0600) and `path`.pub; returns the public key."""
    private_dir(path.parent)
    pub = path.with_name(path.name + ".pub")
    keygen = which("ssh-keygen") or "ssh-keygen"
    if path.exists():
        try:
            public = run([keygen, "-y", "-f", str(path)], what="reading the ssh key")
        except MachineError:
            remove_file(path)  # half-written by a killed run: start over
        else:
            os.chmod(path, 0o600)
            text = public.strip() + f" {comment}\n"
            if not pub.exists() or pub.read_text().split()[:2] != text.split()[:2]:
                replace_file(pub, text, 0o644)
            return pub.read_text().strip()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    remove_file(tmp)
    remove_file(tmp.with_name(tmp.name + ".pub"))
    run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(tmp)],
        what="generating an ssh key")
    os.chmod(tmp, 0o600)
    os.replace(tmp.with_name(tmp.name + ".pub"), pub)
    os.replace(tmp, path)
    return pub.read_text().strip()
