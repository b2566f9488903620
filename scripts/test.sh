#!/usr/bin/env bash
# Installs bedform with its test tools into ./.venv, then runs ruff, mypy and the test suite.
# Run as root: the local provider's tests create network namespaces and bridges.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
echo "==> ruff check"
.venv/bin/ruff check .
echo "==> mypy"
.venv/bin/mypy bedform
echo "==> pytest"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
