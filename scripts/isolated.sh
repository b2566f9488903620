#!/usr/bin/env bash
# Runs a command (by default the test suite) in its own network, mount and PID namespaces:
# its own loopback, /run/netns, /run/bedform, /sys (the interfaces of its own network
# namespace) and process list. Two runs on one machine
# (two worktrees, a helper and CI) then never see each other's namespaces, bridges,
# addresses or sshd processes, and nothing they create reaches this machine's routing table.
# The command does not run as PID 1 of its namespace: sshd started by a PID 1 would take
# itself for already daemonized and never detach.
# Usage (as root): bash scripts/isolated.sh [command...]   default: bash scripts/test.sh
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/isolated.sh creates namespaces: run it as root" >&2
  exit 1
fi
[ "$#" -gt 0 ] || set -- bash "$(dirname "$0")/test.sh"   # runs from its checkout
mkdir -p /run/netns /run/bedform
exec unshare --kill-child --net --mount --pid --fork --mount-proc --propagation private -- \
  bash -c 'set -e
    mount -t tmpfs -o mode=0755 bedform-netns /run/netns
    mount -t tmpfs -o mode=0755 bedform-run /run/bedform
    mount -t sysfs bedform-sys /sys
    ip link set lo up
    "$@"
    exit $?' isolated "$@"
