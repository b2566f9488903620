"""The files every box host shares: the emulated users (passwd, group, NFS-like home with
their authorized_keys), the names of the testbed (hosts) and `sudo-g5k`.

`sudo-g5k` logs in as root on the node itself with a key only the box's hosts hold
(/etc/bedform-sudo-g5k.key, readable by the users, as the real command is open to every
user of a job's nodes); root accepts that key on nodes of jobs without `deploy`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from bedform import machines

from .hosts import Shared

SUDO_KEY = "sudo-g5k"
SUDO_KEY_PATH = "/etc/bedform-sudo-g5k.key"
SUDO_G5K = f"""#!/bin/bash
# sudo-g5k of the Grid'5000 box: run a command (default: a login shell) as root here.
options=(-q -i {SUDO_KEY_PATH} -o BatchMode=yes -o StrictHostKeyChecking=no
         -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
if [ "$#" -eq 0 ]; then
  exec ssh -t "${{options[@]}}" root@127.0.0.1
fi
printf -v command '%q ' "$@"
exec ssh -T "${{options[@]}}" root@127.0.0.1 -- "$command"
"""


def write_shared_files(shared: Shared, hosts_text: str, user_keys: Mapping[str, Sequence[str]],
                       *, first_uid: int, sudo_dir: Path) -> None:
    """Write the common /etc layer, the home directories and the programs."""
    write_accounts(shared, hosts_text, user_keys, first_uid=first_uid,
                   label="Grid'5000 box")
    machines.ensure_keypair(sudo_dir / SUDO_KEY, "sudo-g5k@g5kbox")
    key = shared.etc / Path(SUDO_KEY_PATH).name
    key.write_bytes((sudo_dir / SUDO_KEY).read_bytes())
    os.chmod(key, 0o644)  # owned by root: ssh accepts a key file another user owns
    program = shared.bin / "sudo-g5k"
    program.write_text(SUDO_G5K)
    os.chmod(program, 0o755)


def write_accounts(shared: Shared, hosts_text: str, user_keys: Mapping[str, Sequence[str]],
                   *, first_uid: int, label: str, homes: Sequence[Path] | None = None) -> None:
    """The users (passwd, group, uids from `first_uid`), /etc/hosts, and each user's home
    with their authorized_keys under every directory of `homes` (default: the shared
    home)."""
    bases = [shared.home] if homes is None else list(homes)
    for directory in (shared.etc, shared.bin, *bases):
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
    passwd = Path("/etc/passwd").read_text()
    group = Path("/etc/group").read_text()
    for index, (user, keys) in enumerate(user_keys.items()):
        uid = first_uid + index
        passwd += f"{user}:x:{uid}:{uid}:{user} ({label}):/home/{user}:/bin/bash\n"
        group += f"{user}:x:{uid}:\n"
        for base in bases:
            write_home(base / user, uid, keys)
    (shared.etc / "passwd").write_text(passwd)
    (shared.etc / "group").write_text(group)
    (shared.etc / "hosts").write_text(hosts_text)
    (shared.etc / "resolv.conf").write_text(f"# {label}: names come from /etc/hosts\n")


def write_home(home: Path, uid: int, keys: Sequence[str]) -> None:
    """A user's home directory (0700, owned by `uid`) accepting `keys` for SSH."""
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text("".join(f"{k.strip()}\n" for k in keys))
    for path in (home, ssh_dir, ssh_dir / "authorized_keys"):
        os.chown(path, uid, uid)
    os.chmod(home, 0o700)
