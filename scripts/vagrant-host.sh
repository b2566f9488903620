#!/usr/bin/env bash
# Host set-up for bedform's Vagrant provider (vagrant + vagrant-libvirt + libvirt + QEMU) on
# Debian 12, as root, without systemd: installs Debian's packages if missing, lets qemu read
# the box kernel under /root/.vagrant.d, starts virtlogd and libvirtd with pid files when they
# are not running, defines the "default" storage pool and never starts libvirt's NAT network.
# Idempotent; prints "vagrant host ready" when `virsh -c qemu:///system` answers.
# Usage: sudo bash scripts/vagrant-host.sh        (stop: bash scripts/vagrant-host.sh stop)
set -euo pipefail
PIDDIR=/run/bedform-vagrant
VIRSH="virsh -c qemu:///system"
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "${1:-}" = "stop" ]; then
  for d in libvirtd virtlogd; do
    if alive "$PIDDIR/$d.pid"; then kill "$(cat "$PIDDIR/$d.pid")"; fi
    rm -f "$PIDDIR/$d.pid"
  done
  echo "libvirtd and virtlogd stopped"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/vagrant-host.sh installs packages and starts libvirtd: run it as root" >&2
  exit 1
fi

packages=(vagrant vagrant-libvirt libvirt-daemon-system qemu-system-x86 qemu-utils
          dnsmasq-base debootstrap e2fsprogs libxml2-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# qemu runs as libvirt-qemu by default and cannot traverse /root (0700) to the box's kernel.
if ! grep -q '^user = "root"' /etc/libvirt/qemu.conf; then
  printf '\n# bedform-vagrant: qemu reads box kernels under /root/.vagrant.d\nuser = "root"\ngroup = "root"\n' \
    >> /etc/libvirt/qemu.conf
fi

mkdir -p "$PIDDIR" /run/libvirt
alive "$PIDDIR/virtlogd.pid" || /usr/sbin/virtlogd -d -p "$PIDDIR/virtlogd.pid"
# -d only: -l (TCP listen) needs TLS certificates.
alive "$PIDDIR/libvirtd.pid" || /usr/sbin/libvirtd -d -p "$PIDDIR/libvirtd.pid"
ready=0
for _ in $(seq 100); do
  if $VIRSH version >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
if [ "$ready" -ne 1 ]; then
  echo "libvirtd did not answer on qemu:///system within 20 s (see /var/log/libvirt/)" >&2
  exit 1
fi

if ! $VIRSH pool-info default >/dev/null 2>&1; then
  $VIRSH pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
fi
mkdir -p /var/lib/libvirt/images
[[ "$($VIRSH pool-info default)" =~ State:\ +running ]] || $VIRSH pool-start default >/dev/null
# libvirt's own "default" network NATs to the outside: never leave it running.
if [[ "$($VIRSH net-info default 2>/dev/null || true)" =~ Active:\ +yes ]]; then
  $VIRSH net-destroy default >/dev/null
fi
echo "vagrant host ready: $(vagrant --version), $($VIRSH version --daemon | grep -i 'running hypervisor')"
