#!/usr/bin/env bash
# Runs a command in its own network, mount and PID namespaces:
# its own loopback, /run/netns, /run/bedform, /sys (the interfaces of its own network
# namespace) and process list. Two runs on one machine
# (two worktrees, a helper and CI) then never see each other's namespaces, bridges,
# addresses or sshd processes, and nothing they create reaches this machine's routing table.
# The command does not run as PID 1 of its namespace: sshd started by a PID 1 would take
# itself for already daemonized and never detach.
# scripts/test.sh runs the test suite this way. No network inside: install first.
# Usage (as root): bash scripts/isolated.sh COMMAND [ARGS...]
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/isolated.sh creates namespaces: run it as root" >&2
  exit 1
fi
if [ "$#" -eq 0 ]; then
  echo "usage: bash scripts/isolated.sh COMMAND [ARGS...]  (as root)" >&2
  exit 2
fi
mkdir -p /run/netns /run/bedform
exec unshare --kill-child --net --mount --pid --fork --mount-proc --propagation private -- \
  bash -c 'set -e
    mount -t tmpfs -o mode=0755 bedform-netns /run/netns
    mount -t tmpfs -o mode=0755 bedform-run /run/bedform
    mount -t sysfs bedform-sys /sys
    ip link set lo up
    "$@"
    exit $?' isolated "$@"
