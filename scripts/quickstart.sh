#!/usr/bin/env bash
# The local quick start, as root: install what is missing, then plan, apply, run a
# command on every host over SSH, print the Ansible inventory, and destroy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
stack=examples/quickstart.yaml
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "bedform -c $stack plan"
bedform -c "$stack" plan
step "bedform -c $stack apply --auto-approve"
bedform -c "$stack" apply --auto-approve
trap 'bedform -c "$stack" destroy --auto-approve >/dev/null 2>&1 || true' EXIT

config=$(mktemp)
bedform -c "$stack" output --format ssh-config > "$config"
for host in $(bedform -c "$stack" output --format json | python3 -c \
    'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["hosts"])))'); do
  step "ssh -F <ssh config> $host 'hostname; ip -br addr'"
  ssh -F "$config" "$host" 'hostname; ip -br addr'
done
rm -f "$config"

step "bedform -c $stack output --format ansible"
bedform -c "$stack" output --format ansible
step "bedform -c $stack apply --auto-approve   (again: nothing to do)"
bedform -c "$stack" apply --auto-approve
step "bedform -c $stack destroy --auto-approve"
bedform -c "$stack" destroy --auto-approve
trap - EXIT
