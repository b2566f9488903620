#!/usr/bin/env bash
# Installs bedform with its test tools into ./.venv, then runs ruff, mypy and the test suite.
# Run as root: the tests create network namespaces, bridges and hosts, all inside the
# suite's own network namespace (scripts/isolated.sh), never in this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
echo "==> ruff check"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy bedform
echo "==> pytest (in its own namespaces: scripts/isolated.sh)"
exec bash scripts/isolated.sh .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
