#!/usr/bin/env bash
# Installs what bedform needs on Debian/Ubuntu, as root: iproute2 and OpenSSH (the local
# provider's hosts), python3-venv, then bedform itself into ./.venv.
# Usage: bash scripts/install.sh [test]   ("test" adds pytest, hypothesis, ruff and mypy, and
# dnsmasq-base, isc-dhcp-client and iputils-ping for the Grid'5000 box)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)
if [ "${1:-}" = "test" ]; then  # the Grid'5000 box: DHCP server per kavlan, dhclient on nodes
  command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
  command -v dhclient >/dev/null 2>&1 || [ -x /sbin/dhclient ] || missing+=(isc-dhcp-client)
  command -v ping >/dev/null 2>&1 || missing+=(iputils-ping)  # EnOSlib's kavlan tutorial
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bedform needs: ${missing[*]}. Run this script as root, or: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> python3 -m venv .venv"
  python3 -m venv .venv
fi
extra=""
[ "${1:-}" = "test" ] && extra="[test]"
echo "==> pip install -e .${extra}"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".${extra}"
