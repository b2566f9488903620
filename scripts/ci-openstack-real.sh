#!/usr/bin/env bash
# The real-OpenStack lane: installs what is missing (outside the isolation: apt-get and
# pip need the network), then in its own namespaces (scripts/isolated.sh) brings the
# fixture up with Blazar, runs `pytest -m openstack_real`, and always brings it down.
# Usage (as root): bash scripts/ci-openstack-real.sh [pytest options and paths]
# Environment: PYTHON (default .venv/bin/python), BEDFORM_OS_REAL_STATE (see
# scripts/openstack-real.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BEDFORM_OS_REAL_ISOLATED:-}" != 1 ]; then
  bash scripts/openstack-real.sh install --blazar
  exec env BEDFORM_OS_REAL_ISOLATED=1 bash scripts/isolated.sh bash scripts/ci-openstack-real.sh "$@"
fi
trap 'bash scripts/openstack-real.sh down' EXIT
trap 'exit 130' INT TERM
bash scripts/openstack-real.sh up --blazar
BEDFORM_OS_REAL_CLOUDS="${BEDFORM_OS_REAL_STATE:-/var/tmp/bedform-openstack-real}/clouds.yaml"
export BEDFORM_OS_REAL_CLOUDS
[ "$#" -gt 0 ] || set -- tests
"${PYTHON:-.venv/bin/python}" -m pytest -q -p no:cacheprovider -m openstack_real --durations=0 "$@"
