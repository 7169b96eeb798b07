/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Compiled as C89, C99, C11 and C++ by tests/header/check.sh: the UAPI
 * header must stand alone, and every size and offset that crosses the wire
 * is pinned here.  A change to any of them is an ABI break.
 */
#include <linux/kvm_soc.h>
#include <linux/kvm_soc_ivshmem.h>
#include <stddef.h>

#define KSOC_ASSERT(name, cond) typedef char ksoc_assert_##name[(cond) ? 1 : -1]
#define SZ(s, n) KSOC_ASSERT(size_##s, sizeof(struct s) == (n))
#define OFF(s, f, n) KSOC_ASSERT(off_##s##_##f, offsetof(struct s, f) == (n))

SZ(kvm_soc_window_desc, 128);
OFF(kvm_soc_window_desc, magic, 0);
OFF(kvm_soc_window_desc, abi_version, 4);
OFF(kvm_soc_window_desc, hdr_size, 8);
OFF(kvm_soc_window_desc, window_id, 12);
OFF(kvm_soc_window_desc, window_size, 16);
OFF(kvm_soc_window_desc, host_features, 24);
OFF(kvm_soc_window_desc, api_offset, 32);
OFF(kvm_soc_window_desc, api_nr_slots, 36);
OFF(kvm_soc_window_desc, api_slot_size, 40);
OFF(kvm_soc_window_desc, ioreq_offset, 44);
OFF(kvm_soc_window_desc, ioreq_nr_slots, 48);
OFF(kvm_soc_window_desc, ioreq_slot_size, 52);
OFF(kvm_soc_window_desc, posted_offset, 56);
OFF(kvm_soc_window_desc, posted_nr_entries, 60);
OFF(kvm_soc_window_desc, event_offset, 64);
OFF(kvm_soc_window_desc, event_nr, 68);
OFF(kvm_soc_window_desc, reserved, 72);

SZ(kvm_soc_host_status, 64);
OFF(kvm_soc_host_status, state, 0);
OFF(kvm_soc_host_status, reserved0, 4);
OFF(kvm_soc_host_status, heartbeat, 8);
OFF(kvm_soc_host_status, posted_prod, 16);
OFF(kvm_soc_host_status, reserved, 20);

SZ(kvm_soc_soc_status, 64);
OFF(kvm_soc_soc_status, state, 0);
OFF(kvm_soc_soc_status, abi_version, 4);
OFF(kvm_soc_soc_status, heartbeat, 8);
OFF(kvm_soc_soc_status, soc_features, 16);
OFF(kvm_soc_soc_status, posted_cons, 24);
OFF(kvm_soc_soc_status, reserved, 28);

SZ(kvm_soc_window_hdr, 256);
OFF(kvm_soc_window_hdr, desc, 0);
OFF(kvm_soc_window_hdr, host, 128);
OFF(kvm_soc_window_hdr, soc, 192);

SZ(kvm_soc_api_hdr, 64);
OFF(kvm_soc_api_hdr, state, 0);
OFF(kvm_soc_api_hdr, op, 4);
OFF(kvm_soc_api_hdr, request_id, 8);
OFF(kvm_soc_api_hdr, target, 16);
OFF(kvm_soc_api_hdr, flags, 20);
OFF(kvm_soc_api_hdr, req_len, 24);
OFF(kvm_soc_api_hdr, resp_len, 28);
OFF(kvm_soc_api_hdr, arg, 32);
OFF(kvm_soc_api_hdr, result, 40);
OFF(kvm_soc_api_hdr, arg2, 48);
OFF(kvm_soc_api_hdr, reserved, 56);

SZ(kvm_soc_hello, 64);
OFF(kvm_soc_hello, abi_version, 0);
OFF(kvm_soc_hello, reserved0, 4);
OFF(kvm_soc_hello, host_features, 8);
OFF(kvm_soc_hello, kvm_api_version, 16);
OFF(kvm_soc_hello, reserved, 20);

SZ(kvm_soc_ioreq_hdr, 64);
OFF(kvm_soc_ioreq_hdr, state, 0);
OFF(kvm_soc_ioreq_hdr, vcpu_id, 4);
OFF(kvm_soc_ioreq_hdr, seq, 8);
OFF(kvm_soc_ioreq_hdr, exit_reason, 16);
OFF(kvm_soc_ioreq_hdr, flags, 20);
OFF(kvm_soc_ioreq_hdr, data_len, 24);
OFF(kvm_soc_ioreq_hdr, reserved0, 28);
OFF(kvm_soc_ioreq_hdr, reserved, 32);

SZ(kvm_soc_ioreq, 4480);
OFF(kvm_soc_ioreq, hdr, 0);
OFF(kvm_soc_ioreq, run, 64);
OFF(kvm_soc_ioreq, exit, 128);
OFF(kvm_soc_ioreq, data, 384);

SZ(kvm_soc_posted_write, 32);
OFF(kvm_soc_posted_write, addr, 0);
OFF(kvm_soc_posted_write, data, 8);
OFF(kvm_soc_posted_write, vcpu_id, 16);
OFF(kvm_soc_posted_write, len, 20);
OFF(kvm_soc_posted_write, type, 21);
OFF(kvm_soc_posted_write, reserved0, 22);
OFF(kvm_soc_posted_write, seq, 24);
OFF(kvm_soc_posted_write, reserved1, 28);

SZ(kvm_soc_create_vm, 64);
OFF(kvm_soc_create_vm, type, 0);
OFF(kvm_soc_create_vm, reserved, 8);

SZ(kvm_soc_vm_created, 64);
OFF(kvm_soc_vm_created, window_id, 0);
OFF(kvm_soc_vm_created, max_vcpus, 4);
OFF(kvm_soc_vm_created, vm_api_slots, 8);
OFF(kvm_soc_vm_created, reserved, 12);

SZ(kvm_soc_vcpu_created, 16);
OFF(kvm_soc_vcpu_created, window_id, 0);
OFF(kvm_soc_vcpu_created, reserved, 4);

SZ(kvm_soc_create_memory, 32);
SZ(kvm_soc_mem_range, 16);
KSOC_ASSERT(mem_token_page, (KVM_SOC_MEM_TOKEN(5, 7) >> 32) == 7);
KSOC_ASSERT(mem_token_handle, (KVM_SOC_MEM_TOKEN(5, 7) & 0xffffffffu) == 5);
OFF(kvm_soc_create_memory, size, 8);

/* ioctl argument (not on the wire, but fixed for 32/64-bit userspace) */
SZ(kvm_soc_event_hdr, 128);
OFF(kvm_soc_event_hdr, soc_seq, 0);
OFF(kvm_soc_event_hdr, host_seq, 64);
SZ(kvm_soc_irqfd, 32);
OFF(kvm_soc_irqfd, gsi, 0);
OFF(kvm_soc_irqfd, flags, 4);
SZ(kvm_soc_ioeventfd, 32);
OFF(kvm_soc_ioeventfd, addr, 0);
OFF(kvm_soc_ioeventfd, datamatch, 8);
OFF(kvm_soc_ioeventfd, len, 16);
OFF(kvm_soc_ioeventfd, flags, 20);
SZ(kvm_soc_vm_stats, 128);
OFF(kvm_soc_vm_stats, exits, 8);
OFF(kvm_soc_vm_stats, ioeventfd_kicks, 56);
OFF(kvm_soc_vm_stats, poll_hits, 64);
OFF(kvm_soc_vm_stats, poll_misses, 72);
OFF(kvm_soc_vm_stats, reserved, 80);
SZ(kvm_soc_info, 96);
OFF(kvm_soc_info, argsz, 0);
OFF(kvm_soc_info, flags, 4);
OFF(kvm_soc_info, features, 16);
OFF(kvm_soc_info, host_heartbeat, 24);
OFF(kvm_soc_info, transport, 40);
OFF(kvm_soc_info, reserved, 56);

KSOC_ASSERT(magic, KVM_SOC_WINDOW_MAGIC == 0x434f534bU);
KSOC_ASSERT(abi, KVM_SOC_ABI_VERSION == 0);
KSOC_ASSERT(f_vcpu_windows, KVM_SOC_F_VCPU_WINDOWS == 6);
KSOC_ASSERT(f_bulk_args, KVM_SOC_F_BULK_ARGS == 7);
KSOC_ASSERT(api_f_bulk, KVM_SOC_API_F_BULK == 1);
KSOC_ASSERT(small_api_slot, KVM_SOC_SMALL_API_SLOT == 4096);
KSOC_ASSERT(ioc_abi, KVM_SOC_GET_ABI_VERSION == 0xb980);
KSOC_ASSERT(ioc_info, KVM_SOC_GET_INFO == 0xc060b981);
KSOC_ASSERT(ioc_mem, KVM_SOC_CREATE_MEMORY == 0x4020b982);

int main(void)
{
	return 0;
}

SZ(kvm_soc_ivshmem_desc, 64);
OFF(kvm_soc_ivshmem_desc, magic, 0);
OFF(kvm_soc_ivshmem_desc, version, 4);
OFF(kvm_soc_ivshmem_desc, shm_size, 8);
OFF(kvm_soc_ivshmem_desc, hdr_size, 16);
OFF(kvm_soc_ivshmem_desc, nr_vectors, 20);
OFF(kvm_soc_ivshmem_desc, ctrl_offset, 24);
OFF(kvm_soc_ivshmem_desc, ctrl_size, 32);
OFF(kvm_soc_ivshmem_desc, pool_offset, 40);
OFF(kvm_soc_ivshmem_desc, pool_size, 48);
OFF(kvm_soc_ivshmem_desc, reserved, 56);
SZ(kvm_soc_ivshmem_peer, 64);
OFF(kvm_soc_ivshmem_peer, state, 0);
OFF(kvm_soc_ivshmem_peer, generation, 4);
OFF(kvm_soc_ivshmem_peer, heartbeat, 8);
OFF(kvm_soc_ivshmem_peer, peer_generation, 16);
OFF(kvm_soc_ivshmem_peer, reserved, 20);
SZ(kvm_soc_ivshmem_win, 32);
OFF(kvm_soc_ivshmem_win, offset, 0);
OFF(kvm_soc_ivshmem_win, size, 8);
OFF(kvm_soc_ivshmem_win, generation, 16);
OFF(kvm_soc_ivshmem_win, soc_generation, 20);
OFF(kvm_soc_ivshmem_win, reserved, 24);
SZ(kvm_soc_ivshmem_hdr, 16384);
OFF(kvm_soc_ivshmem_hdr, desc, 0);
OFF(kvm_soc_ivshmem_hdr, peer, 64);
OFF(kvm_soc_ivshmem_hdr, reserved, 192);
OFF(kvm_soc_ivshmem_hdr, win, 256);
KSOC_ASSERT(ivshmem_nr_windows, KVM_SOC_IVSHMEM_NR_WINDOWS == 504);
