"""The shell scripts of the Distem bootstrap, run as root on the pnodes over SSH.

Every pnode: the stack's public key authorized for root and the key pair installed as
root's key when root has none (distemd reaches the other pnodes with it, as EnOSlib's
bootstrap sets up); `distem` installed from Grid'5000's Distem repository when absent
(the Grid'5000 box's nodes have it). The coordinator also starts `distemd --verbose -d`
unless one listens on port 4567: a running daemon holds the vnodes, so it is never
restarted (EnOSlib kills and restarts it on every run, losing every container).
"""

from __future__ import annotations

import base64
import shlex

REPOSITORY = "deb [trusted=yes] http://packages.grid5000.fr/deb/distem/buster ./"
SOURCES = "/etc/apt/sources.list.d/bedform-distem.list"
PRIVATE_KEY = "/root/.ssh/id_ed25519"


def node_script(public_key: str, private_key: str) -> str:
    """Keys and the distem package on one pnode."""
    pub = shlex.quote(public_key.strip())
    blob = base64.b64encode(private_key.encode()).decode()
    return "\n".join([
        "set -e",
        "umask 077; mkdir -p /root/.ssh",
        f"grep -qxF {pub} /root/.ssh/authorized_keys 2>/dev/null || "
        f"echo {pub} >> /root/.ssh/authorized_keys",
        f"if [ ! -f {PRIVATE_KEY} ]; then echo {blob} | base64 -d > {PRIVATE_KEY}.part && "
        f"mv -f {PRIVATE_KEY}.part {PRIVATE_KEY} && echo {pub} > {PRIVATE_KEY}.pub; fi",
        "if ! command -v distemd >/dev/null; then",
        f"  echo {shlex.quote(REPOSITORY)} > {SOURCES}",
        "  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install "
        "-y -q --allow-unauthenticated distem tmux >/dev/null; status=$?",
        f"  rm -f {SOURCES}; [ $status -eq 0 ] || exit $status",
        "fi",
    ])


def coordinator_script(public_key: str, private_key: str) -> str:
    """The pnode's set-up, then distemd started unless it runs."""
    return "\n".join([
        node_script(public_key, private_key),
        # the port, not the process name: on the box every node shares one process table
        "if ! ss -Hltn 'sport = :4567' | grep -q .; then",
        "  mkdir -p /var/log/distem",
        "  distemd --verbose -d </dev/null >/var/log/distem/bedform-start.log 2>&1",
        "  echo started",
        "fi",
    ])
