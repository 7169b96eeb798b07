#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian's libvirt, unmodified, runs a guest on /dev/kvm-soc: libvirtd
# started as Debian starts it (with its udev rules, AppArmor profiles and
# cgroups where the rig has them), the host-side pieces installed by
# tools/libvirt-setup.sh (the <emulator> wrapper, the udev rule, qemu.conf's
# cgroup_device_acl, the AppArmor drop-in).  Checked as a libvirt user
# would: the capability probe is cached (and redone when the wrapper
# changes); define, start (QEMU runs -accel kvm-soc and holds
# /dev/kvm-soc), the console's shell runs a command, suspend and resume
# (domstate follows, the guest's clock stands still), reboot, shutdown,
# destroy, undefine; the host side frees the VM.  Bad input: soc-kvm not
# loaded fails with a clear error, leaves nothing running and the domain
# defined.  TAP.
#
# rig: one CPU
# (an L2 Linux guest, as qemu_guest.sh.)  About 300 s here; a machine
# half as fast would pass the rig's 600 s per test:
# rig: timeout 1200
top=${KSOC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
initrd=$(cat "$top/build/guest-initrd-path" 2>/dev/null)
cache=${KVM_SOC_CACHE:-/var/cache/kvm-soc}
kernel=$(ls "$cache"/kernel/root/boot/vmlinuz-* 2>/dev/null | head -1)
wrapper=/usr/bin/qemu-system-x86_64-kvm-soc
kbuild=$top/build/k612
n=0 fails=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; return 0; fi
	echo "not ok $n $2"
	fails=$((fails + 1))
	return 1
}
echo "TAP version 13"
if [ ! -x /usr/sbin/libvirtd ] || [ ! -x "$wrapper" ]; then
	echo "1..0 # SKIP libvirt or the kvm-soc wrapper not installed (make deps)"
	exit 0
fi
if [ ! -f "$initrd" ] || [ ! -f "$kernel" ]; then
	echo "1..0 # SKIP no guest kernel or initramfs (make selftests)"
	exit 0
fi

# ---- the machine, as Debian would have it -----------------------------
# The rig's root is this machine's, read-only: libvirt's state and
# configuration go on tmpfs copies of what the packages installed.
for d in /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt \
	 /etc/apparmor.d /var/cache/apparmor; do
	[ -d "$d" ] || continue
	mkdir -p "/tmp/lv-root$d"
	cp -a "$d/." "/tmp/lv-root$d/"
	mount --bind "/tmp/lv-root$d" "$d"
done
# No default network here (it needs dnsmasq and a firewall).
rm -f /etc/libvirt/qemu/networks/autostart/default.xml
# libvirt builds QEMU's private /dev by entering its mount namespace,
# which puts it at the real root, not in the rig's chroot: off here (on a
# real machine libvirt creates /dev/kvm-soc there from cgroup_device_acl).
echo 'namespaces = [ ]' >> /etc/libvirt/qemu.conf
log=/var/log/libvirt/libvirtd.log
cat >> /etc/libvirt/libvirtd.conf <<EOF
log_filters="1:qemu 1:security 3:util 3:rpc 3:event"
log_outputs="1:file:$log"
EOF
# /var/lock is /run/lock, a tmpfs here too (virsh console locks its pty).
mkdir -p /run/lock
# Whatever happens, nothing of libvirt's outlives the test (the rig
# unloads the modules after it).
cleanup() {
	local d
	for d in $(/usr/bin/virsh -q -c qemu:///system list --name 2>/dev/null); do
		/usr/bin/virsh -q -c qemu:///system destroy "$d" > /dev/null 2>&1
	done
	pkill -x libvirtd; pkill -x virtlogd; pkill -f systemd-udevd
	sleep 1
	pkill -9 -f qemu-system-x86_64
}
trap cleanup EXIT
# cgroup v2, as Debian boots.
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup
# udev applies the rules, here as on Debian (the kvm-soc rule among them).
mkdir -p /run/udev
# (systemd's tools refuse to act in a chroot unless told to.)
export SYSTEMD_IGNORE_CHROOT=1
/lib/systemd/systemd-udevd --daemon > /tmp/lv-udevd.out 2>&1
echo "# udevd: pid $(pidof systemd-udevd) $(head -2 /tmp/lv-udevd.out | tr '\n' ' ')"
udevadm trigger --action=add --subsystem-match=misc 2>&1 | sed 's/^/# udev: /'
udevadm settle -t 10 2>&1 | sed 's/^/# udev: /'
[ "$(stat -c '%G %a' /dev/kvm-soc)" = "$(stat -c '%G %a' /dev/kvm)" ]
ok $? "/dev/kvm-soc has /dev/kvm's group and mode ($(stat -c '%G %a' /dev/kvm-soc), /dev/kvm $(stat -c '%G %a' /dev/kvm); udev rule)"
# AppArmor: the rig runs its tests chrooted into this machine's root, and
# AppArmor sees paths from the real root (/host/usr/...), so no profile
# written for Debian's paths can apply here.  libvirt then runs without
# its AppArmor driver (docs/known-limits.md).
echo "# AppArmor: not loaded in the rig (chroot); libvirt uses DAC only"
# The daemons, as their units start them (/etc/default/libvirtd's
# --timeout left out: nothing here socket-activates it again).
/usr/sbin/virtlogd --daemon
/usr/sbin/libvirtd --daemon
virsh() { timeout 120 /usr/bin/virsh -q -c qemu:///system "$@"; }
for ((i = 0; i < 60; i++)); do virsh version > /dev/null 2>&1 && break; sleep 0.5; done
virsh version > /tmp/lv-version 2>&1
ok $? "libvirtd answers ($(grep -i 'daemon' /tmp/lv-version | head -1))"

# ---- capabilities ------------------------------------------------------
probes() { grep -c 'Try to probe capabilities of' "$log" 2>/dev/null; }
virsh domcapabilities --emulatorbin "$wrapper" --virttype qemu --arch x86_64 > /tmp/lv-domcaps 2>&1
grep -q '<domain>qemu</domain>' /tmp/lv-domcaps
ok $? "domcapabilities of the wrapper lists the guest type qemu"
p1=$(probes)
virsh domcapabilities --emulatorbin "$wrapper" --virttype qemu --arch x86_64 > /dev/null 2>&1
virsh domcapabilities --emulatorbin "$wrapper" --virttype qemu --arch x86_64 > /dev/null 2>&1
p2=$(probes)
[ "$p1" -ge 1 ] && [ "$p1" = "$p2" ]
ok $? "two more calls do not probe QEMU again ($p1 probes, then $p2)"
touch "$wrapper" 2>/dev/null || { cp -a "$wrapper" /tmp/lv-wrapper && mount --bind /tmp/lv-wrapper "$wrapper"; }
virsh domcapabilities --emulatorbin "$wrapper" --virttype qemu --arch x86_64 > /dev/null 2>&1
p3=$(probes)
[ "$p3" -gt "$p2" ]
ok $? "a changed wrapper is probed again ($p3 probes)"

# ---- a guest's life ----------------------------------------------------
img=/var/lib/libvirt/images
mkdir -p "$img"
cp "$kernel" "$img/ksoc-vmlinuz"
cp "$initrd" "$img/ksoc-initrd"
truncate -s 64M "$img/ksoc-disk.raw"
domxml() { # <name> <type>
	cat <<EOF
<domain type='$2'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$img/ksoc-vmlinuz</kernel>
    <initrd>$img/ksoc-initrd</initrd>
    <cmdline>console=ttyS0 rdinit=/init panic=-1 loglevel=4 ksoc_guest=shell</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='maximum'/>
  <devices>
    <emulator>$wrapper</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$img/ksoc-disk.raw'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><model type='virtio'/><rom enabled='no'/></interface>
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/$1-console.log' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
clog=/var/log/libvirt/qemu/ksoc-lv-console.log
boots() { grep -c 'KSOC-GUEST: userspace up' "$clog" 2>/dev/null; }
wait_console() { # <pattern> <count> <seconds>
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		[ "$(grep -c "$1" "$clog" 2>/dev/null)" -ge "$2" ] && return 0
		sleep 0.5
	done
	return 1
}
qpid() { cat /run/libvirt/qemu/ksoc-lv.pid 2>/dev/null; }

# The host side's VMs and helpers (the loop: this machine is the host).
[ -d /sys/kernel/debug/kvm ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
nvms() { find /sys/kernel/debug/kvm -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }
helpers() { pgrep -c -f kvm-soc-vmctx; }
base=$(nvms) hbase=$(helpers)

domxml ksoc-lv qemu > /tmp/lv-dom.xml
virsh define /tmp/lv-dom.xml > /tmp/lv-out 2>&1
ok $? "virsh define ($(head -1 /tmp/lv-out))"
virsh start ksoc-lv > /tmp/lv-out 2>&1
ok $? "virsh start ($(head -1 /tmp/lv-out))" || {
	sed 's/^/# /' /tmp/lv-out
	grep -E ' error : ' "$log" | tail -10 | cut -c1-400 | sed 's/^/# log: /'
}
pid=$(qpid)
tr '\0' ' ' < /proc/"$pid"/cmdline 2>/dev/null | grep -q -- '-accel kvm-soc'
ok $? "QEMU (pid ${pid:-none}) runs with -accel kvm-soc"
ls -l /proc/"$pid"/fd 2>/dev/null | grep -q '/dev/kvm-soc'
ok $? "QEMU holds /dev/kvm-soc open"
wait_console 'KSOC-GUEST: shell on the console' 1 240
ok $? "the guest boots to its shell ($(grep -m1 'userspace up' "$clog" | tr -d '\r'))"
grep -q 'KSOC-GUEST: all checks passed' "$clog"
ok $? "the guest's disk and network checks pass"
echo "# $(grep 'KSOC-GUEST: irq' "$clog" | tr -d '\r' | tr '\n' ' ')"

# console <command>: run it in the guest's shell through virsh console
# (a pty, as a user types); its output, up to a marker the shell computes.
cat > /tmp/lv-console.py <<'EOF'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("virsh", ["virsh", "-c", "qemu:///system", "console", "--force", "ksoc-lv"])
out, end, sent = b"", time.time() + 60, False
while time.time() < end and b"KSOC-DONE-42" not in out:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
    if b"Escape character" in out and not sent:
        time.sleep(1)
        os.write(fd, b"\r" + sys.argv[1].encode() + b"; echo KSOC-DONE-$((6 * 7))\r")
        sent = True
os.write(fd, b"\x1d")
time.sleep(1)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(0 if b"KSOC-DONE-42" in out else 1)
EOF
console() { python3 /tmp/lv-console.py "$1"; }
console 'echo KSOC-ANSWER-$((6 * 7))' > /tmp/lv-console.out 2>&1 &&
	grep -q '^KSOC-ANSWER-42' /tmp/lv-console.out
ok $? "virsh console reaches the guest's shell, which runs a command"
sed 's/^/# console: /' /tmp/lv-console.out | tail -3
echo

# suspend / resume: the state follows, the guest's clock stops.
# (The guest's uptime is its kvmclock: QEMU holds it while stopped.)  The
# guest's uptime is read over the console three times, 6 s apart, the
# second pair around 6 s of suspension: the first pair measures what the
# reads cost and how the guest's clock runs under the rig's TCG, so the
# second pair must miss as much more of the host's time as the guest was
# paused: at least from suspend's return to resume's call, at most from
# suspend's call to resume's return (virsh itself is slow in the rig),
# with 1.5 s either side for the guest clock's pace under TCG.
guest_uptime() { console 'cat /proc/uptime' | grep -oE '^[0-9]+\.[0-9]+ ' | head -1; }
u0=$(guest_uptime) t0=$(date +%s.%N)
sleep 6
u1=$(guest_uptime) t1=$(date +%s.%N)
s0=$(date +%s.%N)
virsh suspend ksoc-lv > /dev/null 2>&1
s1=$(date +%s.%N)
[ "$(virsh domstate ksoc-lv 2>/dev/null | head -1)" = paused ]
ok $? "virsh suspend: domstate paused"
sleep 6
r0=$(date +%s.%N)
virsh resume ksoc-lv > /dev/null 2>&1
r1=$(date +%s.%N)
[ "$(virsh domstate ksoc-lv 2>/dev/null | head -1)" = running ]
ok $? "virsh resume: domstate running"
u2=$(guest_uptime) t2=$(date +%s.%N)
stood=$(awk -v u0="$u0" -v u1="$u1" -v u2="$u2" -v t0="$t0" -v t1="$t1" -v t2="$t2" \
	'BEGIN { printf "%.1f", ((t2 - t1) - (u2 - u1)) - ((t1 - t0) - (u1 - u0)) }')
lo=$(awk -v a="$s1" -v b="$r0" 'BEGIN { printf "%.1f", b - a }')
hi=$(awk -v a="$s0" -v b="$r1" 'BEGIN { printf "%.1f", b - a }')
[ -n "$u0" ] && [ -n "$u1" ] && [ -n "$u2" ] &&
	awk -v s="$stood" -v lo="$lo" -v hi="$hi" -v u1="$u1" -v u2="$u2" \
		'BEGIN { exit !(s >= lo - 1.5 && s <= hi + 1.5 && u2 > u1) }'
ok $? "the guest's clock stood still while suspended: it missed $stood s more of the host's time than over as long running, paused $lo to $hi s (uptime $u0, $u1, $u2)"

virsh reboot ksoc-lv > /tmp/lv-out 2>&1
wait_console 'KSOC-GUEST: userspace up' 2 150
ok $? "virsh reboot: the guest boots again ($(boots) boots)" || {
	sed 's/^/# /' /tmp/lv-out
	tail -n 8 "$clog" | tr -d '\r' | sed 's/^/# console log: /'
}
wait_console 'KSOC-GUEST: shell on the console' 2 120
virsh shutdown ksoc-lv > /tmp/lv-out 2>&1
for ((i = 0; i < 120; i++)); do [ "$(virsh domstate ksoc-lv 2>/dev/null | head -1)" = "shut off" ] && break; sleep 0.5; done
[ "$(virsh domstate ksoc-lv 2>/dev/null | head -1)" = "shut off" ]
ok $? "virsh shutdown: the guest powers off (domstate $(virsh domstate ksoc-lv 2>/dev/null | head -1))"
! kill -0 "$pid" 2>/dev/null
ok $? "QEMU has exited"

virsh start ksoc-lv > /dev/null 2>&1
pid=$(qpid)
wait_console 'KSOC-GUEST: shell on the console' 3 150
virsh destroy ksoc-lv > /tmp/lv-out 2>&1
ok $? "virsh destroy"
for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
! kill -0 "$pid" 2>/dev/null
ok $? "QEMU is gone after destroy"
for ((i = 0; i < 20; i++)); do [ "$(nvms)" = "$base" ] && break; sleep 0.5; done
[ "$(nvms)" = "$base" ] && [ "$(helpers)" = "$hbase" ]
ok $? "the host side freed the VM ($(nvms) KVM VMs, $(helpers) helpers; before start $base, $hbase)"
# Bad input: the SoC's module is not loaded.
if rmmod kvm-soc-loop soc-kvm 2> /dev/null; then
	! virsh start ksoc-lv > /tmp/lv-out 2>&1 && grep -q '/dev/kvm-soc' /tmp/lv-out
	ok $? "without soc-kvm, virsh start fails naming /dev/kvm-soc: $(grep -o 'cannot open /dev/kvm-soc[^)]*)' /tmp/lv-out | head -1)" ||
		sed 's/^/# /' /tmp/lv-out
	sleep 1
	! pgrep -f 'guest=ksoc-lv' > /dev/null
	ok $? "no QEMU is left running"
	[ "$(virsh domstate ksoc-lv 2>/dev/null | head -1)" = "shut off" ]
	ok $? "the domain is still defined (domstate $(virsh domstate ksoc-lv 2>/dev/null | head -1))"
	insmod "$kbuild/soc-kvm.ko" && insmod "$kbuild/kvm-soc-loop.ko"
	for ((i = 0; i < 20; i++)); do [ -c /dev/kvm-soc ] && break; sleep 0.5; done
	[ -c /dev/kvm-soc ]
	ok $? "soc-kvm and the loop transport load again"
else
	ok 1 "could not unload soc-kvm for the module-missing case"
fi

virsh undefine ksoc-lv > /dev/null 2>&1
! virsh dominfo ksoc-lv > /dev/null 2>&1
ok $? "virsh undefine: the domain is gone"

echo "# libvirtd log: $(grep -c . "$log") lines"
echo "1..$n"
[ $fails = 0 ]
