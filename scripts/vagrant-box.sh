#!/usr/bin/env bash
# Builds bedform's offline Debian 12 Vagrant box for vagrant-libvirt and adds it to Vagrant.
# Only the Debian mirror apt already uses is contacted (debootstrap). The guest boots its
# kernel directly (no grub), under QEMU TCG, with an isolated management network.
# Cached: when the box is already added from this very recipe, the script returns at once.
# Usage: sudo bash scripts/vagrant-box.sh [--force]
#   env: BOX_NAME (bedform/debian12)  BOX_DIR (/var/tmp/bedform-vagrant-box)  MIRROR  DISK_SIZE (3G)
set -euo pipefail
BOX_NAME=${BOX_NAME:-bedform/debian12}
BOX_DIR=${BOX_DIR:-/var/tmp/bedform-vagrant-box}
DISK_SIZE=${DISK_SIZE:-3G}
ROOTFS=$BOX_DIR/rootfs
BOX_FILE=$BOX_DIR/debian12.box
STAMP=$BOX_DIR/recipe.sha256
export VAGRANT_CHECKPOINT_DISABLE=1

need() { command -v "$1" >/dev/null 2>&1 || { echo "$1 is missing: run sudo bash scripts/vagrant-host.sh (installs $2)" >&2; exit 1; }; }
need vagrant vagrant; need debootstrap debootstrap; need qemu-img qemu-utils; need mkfs.ext4 e2fsprogs
[ "$(id -u)" -eq 0 ] || { echo "building the box needs root (debootstrap, chroot)" >&2; exit 1; }

recipe=$(sha256sum "$0" | cut -d' ' -f1)
if [ "${1:-}" != "--force" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$recipe" ] \
   && [ -f "$BOX_FILE" ] && [[ "$(vagrant box list 2>/dev/null)" == *"$BOX_NAME "*libvirt* ]]; then
  echo "box $BOX_NAME is up to date ($BOX_FILE)"
  exit 0
fi

MIRROR=${MIRROR:-$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
MIRROR=${MIRROR:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
INSECURE_KEY=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | head -1)
[ -n "$INSECURE_KEY" ] || { echo "vagrant's insecure public key was not found: reinstall the vagrant package" >&2; exit 1; }
mkdir -p "$BOX_DIR"
step() { local start=$SECONDS; echo "==> $1"; shift; "$@"; echo "    $((SECONDS - start)) s"; }

# A rootfs left by an earlier run of the same recipe is reused (debootstrap is most of the time).
if [ ! -f "$ROOTFS/.bedform-$recipe" ]; then
  rm -rf "$ROOTFS"
  step "debootstrap bookworm from $MIRROR" debootstrap --variant=minbase \
    --include=systemd-sysv,linux-image-amd64,openssh-server,sudo,ifupdown,isc-dhcp-client,iproute2,iputils-ping,procps,netbase,python3 \
    bookworm "$ROOTFS" "$MIRROR" >"$BOX_DIR/debootstrap.log"
fi

configure_guest() {
  echo debian12 >"$ROOTFS/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian12\n' >"$ROOTFS/etc/hosts"
  echo '/dev/vda / ext4 defaults,errors=remount-ro 0 1' >"$ROOTFS/etc/fstab"
  : >"$ROOTFS/etc/resolv.conf"   # never the build host's resolver: guests have no way out
  printf 'source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\nallow-hotplug eth0\niface eth0 inet dhcp\n' \
    >"$ROOTFS/etc/network/interfaces"
  chroot "$ROOTFS" id vagrant >/dev/null 2>&1 || chroot "$ROOTFS" useradd -m -s /bin/bash -U vagrant
  echo 'vagrant:vagrant' | chroot "$ROOTFS" chpasswd
  echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >"$ROOTFS/etc/sudoers.d/vagrant"
  chmod 440 "$ROOTFS/etc/sudoers.d/vagrant"
  install -d -m 700 -o 1000 -g 1000 "$ROOTFS/home/vagrant/.ssh"
  install -m 600 -o 1000 -g 1000 "$INSECURE_KEY" "$ROOTFS/home/vagrant/.ssh/authorized_keys"
  printf 'UseDNS no\nGSSAPIAuthentication no\n' >"$ROOTFS/etc/ssh/sshd_config.d/vagrant.conf"
  # direct kernel boot from a virtio disk needs only these modules in the initrd
  sed -i 's/^MODULES=.*/MODULES=list/' "$ROOTFS/etc/initramfs-tools/initramfs.conf"
  printf 'virtio_pci\nvirtio_blk\next4\ncrc32c_generic\n' >"$ROOTFS/etc/initramfs-tools/modules"
  chroot "$ROOTFS" update-initramfs -u -k all >/dev/null 2>&1
  for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
              fstrim.timer getty@tty1.service getty-static.service; do
    chroot "$ROOTFS" systemctl disable "$unit" >/dev/null 2>&1 || true
  done
  chroot "$ROOTFS" apt-get clean
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
  : >"$ROOTFS/etc/machine-id"
  touch "$ROOTFS/.bedform-$recipe"
}
step "configure the guest" configure_guest

rm -f "$BOX_DIR/box.raw" "$BOX_DIR/box.img"
step "mkfs.ext4 -d ($DISK_SIZE)" mkfs.ext4 -q -F -L root -d "$ROOTFS" "$BOX_DIR/box.raw" "$DISK_SIZE"
step "qemu-img convert to qcow2" qemu-img convert -c -O qcow2 "$BOX_DIR/box.raw" "$BOX_DIR/box.img"
rm -f "$BOX_DIR/box.raw"
cp -L "$ROOTFS/vmlinuz" "$BOX_DIR/vmlinuz"
cp -L "$ROOTFS/initrd.img" "$BOX_DIR/initrd.img"
gib=$(( ($(qemu-img info --output=json "$BOX_DIR/box.img" | sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p') + 1073741823) / 1073741824 ))
printf '{"provider": "libvirt", "format": "qcow2", "virtual_size": %s}\n' "$gib" >"$BOX_DIR/metadata.json"
cat >"$BOX_DIR/Vagrantfile" <<'VF'
# bedform's offline Debian 12 box: direct kernel boot under QEMU TCG, isolated networks only.
Vagrant.configure("2") do |config|
  config.vm.box_check_update = false
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.boot_timeout = 900
  config.vm.provider :libvirt do |lv|
    lv.driver = "qemu"
    lv.cpu_mode = "custom"
    lv.cpu_model = "qemu64"
    lv.memory = 512
    lv.cpus = 1
    lv.kernel = File.expand_path("vmlinuz", __dir__)
    lv.initrd = File.expand_path("initrd.img", __dir__)
    lv.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0 biosdevname=0 quiet"
    lv.disk_bus = "virtio"
    lv.graphics_type = "none"
    lv.management_network_mode = "none"
  end
end
VF
step "pack $BOX_FILE" tar -C "$BOX_DIR" -czf "$BOX_FILE" metadata.json Vagrantfile box.img vmlinuz initrd.img
vagrant box remove -f --all "$BOX_NAME" >/dev/null 2>&1 || true
step "vagrant box add $BOX_NAME" vagrant box add --name "$BOX_NAME" "$BOX_FILE" >/dev/null
echo "$recipe" >"$STAMP"
echo "box $BOX_NAME built and added ($BOX_FILE)"
