#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What Debian's libvirt (unmodified) needs to run guests on /dev/kvm-soc,
# installed idempotently (run as root; again after the patched QEMU moved):
#
#   /usr/bin/qemu-system-x86_64-kvm-soc
#	the <emulator> of kvm-soc domains: libvirt's capability probe runs
#	the patched QEMU untouched; a real start has its -accel tcg turned
#	into -accel kvm-soc and the firmware directories of Debian's
#	seabios and qemu-system-data packages added (the patched QEMU is a
#	build tree's), and the wrapper execs QEMU (no fork: libvirt tracks
#	the pid and passes file descriptors).  Under /usr/bin because
#	libvirtd's AppArmor profile may execute what is there.
#   /usr/lib/kvm-soc/qemu-system-x86_64	a copy of the patched QEMU (the
#	cache it was built in need not be reachable by libvirt-qemu).
#   /etc/kvm-soc/qemu-path	the QEMU the wrapper execs.
#   /etc/udev/rules.d/65-kvm-soc.rules
#	/dev/kvm-soc gets /dev/kvm's owner and mode (group kvm, 0660).
#   /etc/libvirt/qemu.conf	cgroup_device_acl: libvirt's default list
#	(the setting replaces it) and /dev/kvm-soc, which libvirt then also
#	creates in QEMU's private /dev.
#   /etc/apparmor.d/abstractions/libvirt-qemu.d/kvm-soc
#	what a guest's QEMU may do besides libvirt's abstraction: use
#	/dev/kvm-soc, run the wrapper's shell and the patched QEMU.
#
# Usage: libvirt-setup.sh QEMU [ROOT]   (ROOT: install under another root)
set -euo pipefail

qemu=$1
root=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$qemu" ] || { echo "libvirt-setup: $qemu is not an executable QEMU" >&2; exit 1; }
qemu=$(readlink -f "$qemu")

# install_file <mode> <dest> < content: replace only when it differs.
install_file() {
	local tmp
	tmp=$(mktemp)
	cat > "$tmp"
	mkdir -p "$(dirname "$root$2")"
	if ! cmp -s "$tmp" "$root$2"; then
		install -m "$1" "$tmp" "$root$2"
		echo "libvirt-setup: installed $2"
	fi
	rm -f "$tmp"
}

# A copy libvirt's QEMU user can run whatever the cache's permissions.
bin=/usr/lib/kvm-soc/qemu-system-x86_64
mkdir -p "$root$(dirname "$bin")"
if ! cmp -s "$qemu" "$root$bin"; then
	install -m 0755 "$qemu" "$root$bin"
	echo "libvirt-setup: installed $bin"
fi
qemu=$bin
install_file 0644 /etc/kvm-soc/qemu-path <<< "$qemu"

install_file 0755 /usr/bin/qemu-system-x86_64-kvm-soc <<'EOF'
#!/bin/sh
# kvm-soc: libvirt's <emulator> for guests whose KVM is /dev/kvm-soc
# (installed by kvm-soc's tools/libvirt-setup.sh).  A capability probe
# (-machine none) runs the patched QEMU as it is; a guest's start has its
# TCG accelerator replaced by kvm-soc.  Always exec: libvirt tracks this
# pid and the file descriptors it passes.
qemu=$(cat /etc/kvm-soc/qemu-path) || exit 1
probe=0 prev=
for a in "$@"; do
	[ "$prev" = -machine ] && case "$a" in none|none,*) probe=1 ;; esac
	prev=$a
done
if [ $probe = 1 ]; then
	exec "$qemu" "$@"
fi
n=$# prev=
while [ $n -gt 0 ]; do
	a=$1
	shift
	n=$((n - 1))
	if [ "$prev" = -accel ]; then
		case "$a" in tcg|tcg,*) a=kvm-soc ;; esac
	fi
	set -- "$@" "$a"
	prev=$a
done
# The patched QEMU is a build tree's: firmware from Debian's packages.
exec "$qemu" -L /usr/share/qemu -L /usr/share/seabios "$@"
EOF

install_file 0644 /etc/udev/rules.d/65-kvm-soc.rules < "$top/tools/udev/65-kvm-soc.rules"

conf=$root/etc/libvirt/qemu.conf
if [ -f "$conf" ] && ! grep -q '^# kvm-soc: begin' "$conf"; then
	cat >> "$conf" <<'EOF'
# kvm-soc: begin (tools/libvirt-setup.sh)
# libvirt's default list, which this setting replaces, and /dev/kvm-soc.
cgroup_device_acl = [
    "/dev/null", "/dev/full", "/dev/zero",
    "/dev/random", "/dev/urandom",
    "/dev/ptmx", "/dev/kvm",
    "/dev/userfaultfd", "/dev/kvm-soc"
]
# kvm-soc: end
EOF
	echo "libvirt-setup: /dev/kvm-soc added to cgroup_device_acl in /etc/libvirt/qemu.conf"
fi

install_file 0644 /etc/apparmor.d/abstractions/libvirt-qemu.d/kvm-soc <<EOF
# kvm-soc (tools/libvirt-setup.sh): a guest's QEMU on /dev/kvm-soc.
  /dev/kvm-soc rw,
  /etc/kvm-soc/qemu-path r,
  /usr/bin/qemu-system-x86_64-kvm-soc rmix,
  /{usr/,}bin/{,da,ba}sh rmix,
  /{usr/,}bin/cat rmix,
  $qemu rmix,
  /usr/share/seabios/** r,
EOF
