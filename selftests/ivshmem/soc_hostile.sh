#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Garbage in the window across two machines: soc_lifecycle's hostile tests
# on the SoC machine, their faults injected into the ivshmem BAR (debugfs
# kvm-soc-ivshmem-soc/poke, which writes into the shared memory and rings
# both machines).  A request the host machine cannot take fails that VM
# only; an exit from the host machine with impossible fields (the host's
# side of the same) fails KVM_RUN with EIO, and other VMs run on; bulk
# requests the host machine must refuse are refused, and ioctls too large
# for an API slot cross by the bulk path.  TAP.
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -d /sys/kernel/debug/kvm-soc-ivshmem-soc ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
exec "$top/build/selftests/soc_lifecycle" \
	-t hostile_window_fails_only_that_vm -t hostile_exit_fails_kvm_run \
	-t hostile_mmio_length_fails_kvm_run -t hostile_internal_error_ndata_fails_kvm_run \
	-t hostile_system_event_ndata_fails_kvm_run -t nonzero_unused_request_fields_are_refused \
	-t hostile_event_count_fails_vm -t hostile_bulk_requests_are_refused \
	-t api_slots_small_large_ioctls_by_the_bulk_path
