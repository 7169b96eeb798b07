#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the rig VM (in this machine's root, read-only), as
# started by tools/rig-init.sh.  Loads KVM and kvm-soc, runs the tests
# listed in $KSOC_OUT/tests.list with TAP logs in $KSOC_OUT/tests/, unloads,
# saves dmesg, and leaves $KSOC_OUT/done.  tools/rig reads the verdict.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
top=$KSOC_TOP
out=$KSOC_OUT
kbuild=$top/build/k612
role=${KSOC_ROLE:-loop}
# The modules of this machine's role: both cores and the loop transport,
# or one side of the ivshmem topology.
case "$role" in
host) mods=(host-kvm kvm-soc-ivshmem-host) ;;
soc) mods=(soc-kvm kvm-soc-ivshmem-soc) ;;
*) mods=(host-kvm soc-kvm kvm-soc-loop) ;;
esac
mkdir -p "$out/tests"

echo "rig-guest: $(uname -r), $(nproc) CPUs, mode $KSOC_MODE"
# Hung tasks are reported (and fail the run) well before the rig timeout.
sysctl -q -w kernel.hung_task_timeout_secs=30 kernel.hung_task_warnings=10

# A small TAP writer for the checks this script makes itself.
tap_n=0
tap_log=
tap_begin() { tap_log=$out/tests/$1.log; tap_n=0; echo "TAP version 13" > "$tap_log"; }
tap() { # <0|1|skip> <description>
	tap_n=$((tap_n + 1))
	case "$1" in
	0) echo "ok $tap_n $2" ;;
	skip) echo "ok $tap_n $2 # SKIP" ;;
	*) echo "not ok $tap_n $2" ;;
	esac | tee -a "$tap_log"
}
tap_end() { echo "1..$tap_n" >> "$tap_log"; echo 0 > "${tap_log%.log}.rc"; }

# Stock KVM of the rig's kernel (nested SVM under TCG).
# A SoC machine has no KVM of its own: it reaches its host's.
[ "$role" = soc ] || modprobe -d "$KSOC_KROOT" kvm_amd 2>&1 || echo "rig-guest: kvm_amd did not load"
[ -c /dev/kvm ] && echo "rig-guest: /dev/kvm is up" || echo "rig-guest: no /dev/kvm"

load_modules() {
	local m
	# (The kernel starts host-kvm's helper in init's root, which
	# rig-init.sh made this machine's root.)
	for m in "${mods[@]}"; do
		if [ "$m" = host-kvm ]; then
			insmod "$kbuild/host-kvm.ko" helper="$top/build/tools/kvm-soc-vmctx" || return 1
		else
			insmod "$kbuild/$m.ko" || return 1
		fi
	done
	udevadm settle 2>/dev/null
	[ "$role" = host ] || [ -c /dev/kvm-soc ] || return 1
	# The SoC machine attaches when its host is up, which may be later.
	if [ "$role" = soc ]; then
		local t=0
		until "$top/build/tools/kvm-soc-info" > /dev/null 2>&1; do
			[ $t -ge 600 ] && { echo "rig-guest: no host after ${t}s"; return 1; }
			sleep 1
			t=$((t + 1))
		done
	fi
}

unload_modules() {
	local i
	for ((i = ${#mods[@]} - 1; i >= 0; i--)); do
		rmmod "${mods[$i]}" || return 1
	done
	[ ! -e /dev/kvm-soc ]
}

if [ "$KSOC_NO_MODULES" != 1 ]; then
	tap_begin 00-modules-load
	load_modules; tap $? "${mods[*]} load"
	case "$role" in
	host)
		dmesg | grep -q 'host_kvm: ivshmem: attached'; tap $? "host-kvm serves the control window in the ivshmem BAR"
		;;
	soc)
		st=$(stat -c '%F %a %U:%G' /dev/kvm-soc 2>/dev/null)
		[ "$st" = "character special file 660 root:root" ]; tap $? "/dev/kvm-soc is a 0660 char device ($st)"
		dmesg | grep -q 'soc_kvm: ivshmem: attached, host ABI 0'; tap $? "SoC shook hands with the host machine over ivshmem"
		;;
	*)
		st=$(stat -c '%F %a %U:%G' /dev/kvm-soc 2>/dev/null)
		[ "$st" = "character special file 660 root:root" ]; tap $? "/dev/kvm-soc is a 0660 char device ($st)"
		dmesg | grep -q 'soc_kvm: loop: attached, host ABI 0'; tap $? "SoC shook hands with the host over the loop transport"
		;;
	esac
	tap_end
fi

run_test() { # <path>
	local t=$1 name rc start limit=600
	name=$(basename "$t"); name=${name%.sh}
	# A script may ask for more with a line "# rig: timeout N":
	# libvirt takes about 300 s here (twice that on a slower machine), and
	# qemu_migrate runs longer than that under make check-full.
	if [[ $t == *.sh ]]; then
		limit=$(sed -n 's/^# rig: timeout \([0-9]*\)$/\1/p' "$t" | head -1)
		limit=${limit:-600}
	fi
	echo "rig-guest: ---- $name"
	start=$(date +%s)
	if [[ $t == *.sh ]]; then
		timeout -k 5 "$limit" bash "$t" > "$out/tests/$name.log" 2>&1
	else
		timeout -k 5 "$limit" "$t" > "$out/tests/$name.log" 2>&1
	fi
	rc=$?
	echo $rc > "$out/tests/$name.rc"
	echo $(($(date +%s) - start)) > "$out/tests/$name.time"
	sed 's/^/    /' "$out/tests/$name.log"
	echo "rig-guest: ---- $name: exit $rc ($(cat "$out/tests/$name.time") s)"
}

# Keep KVM's VM-count static keys on for the whole run (see kvm_hold.c).
hold_pid=
if [ -c /dev/kvm ] && [ -x "$top/build/selftests/rig/kvm_hold" ]; then
	"$top/build/selftests/rig/kvm_hold" &
	hold_pid=$!
fi

case "$KSOC_MODE" in
run)
	while IFS= read -r t; do
		[ -n "$t" ] && run_test "$t"
	done < "$out/tests.list"
	;;
demo)
	bash "$top/tools/demo.sh" 2>&1 | tee "$out/tests/demo.log"
	echo "${PIPESTATUS[0]}" > "$out/tests/demo.rc"
	;;
bench)
	{ "$top/build/tools/kvm-soc-bench" && bash "$top/tools/guest-bench.sh" &&
	  bash "$top/tools/migrate-bench.sh" &&
	  IO_BENCH_BACKENDS=${IO_BENCH_BACKENDS:-vhost-net} bash "$top/tools/io-bench.sh" &&
	  "$top/build/tools/kvm-soc-bench" churn 1000; } 2>&1 |
		tee "$out/tests/bench.log"
	echo "${PIPESTATUS[0]}" > "$out/tests/bench.rc"
	;;
esac
[ -n "$hold_pid" ] && kill "$hold_pid" && wait "$hold_pid" 2>/dev/null

if [ "$KSOC_NO_MODULES" != 1 ]; then
	tap_begin zz-modules-unload
	unload_modules; tap $? "modules unload, /dev/kvm-soc is gone"
	ok=0
	for i in 1 2 3; do
		load_modules && unload_modules || ok=1
	done
	tap $ok "3 more load/unload cycles"
	tap_end
fi

dmesg > "$out/dmesg.txt"
touch "$out/done"
sync
