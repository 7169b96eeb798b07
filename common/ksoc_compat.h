/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Lets the channel helpers in common/ build both in the kernel and in
 * userspace (unit tests, fuzz target).  In the kernel this is only the
 * kernel headers; in userspace it maps the few kernel primitives the
 * helpers use onto C11-style compiler atomics with the same ordering.
 */
#ifndef _KSOC_COMPAT_H
#define _KSOC_COMPAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/bits.h>
#include <linux/compiler.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <asm/barrier.h>
#include <asm/byteorder.h>
#else /* userspace */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <endian.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;

#define BIT_ULL(n)	(1ULL << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#if __BYTE_ORDER != __LITTLE_ENDIAN
#error "userspace build of the channel helpers assumes a little-endian machine"
#endif
#define cpu_to_le16(x)	((__le16)(u16)(x))
#define cpu_to_le32(x)	((__le32)(u32)(x))
#define cpu_to_le64(x)	((__le64)(u64)(x))
#define le16_to_cpu(x)	((u16)(x))
#define le32_to_cpu(x)	((u32)(x))
#define le64_to_cpu(x)	((u64)(x))

/*
 * The kernel's ordering primitives as compiler atomics: relaxed for
 * READ_ONCE/WRITE_ONCE, acquire/release for smp_load_acquire() and
 * smp_store_release() (same pairing rules as in the kernel), a full
 * fence for smp_mb().
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* acquire: later loads and stores stay after it */
#define smp_load_acquire(p)	__atomic_load_n((p), __ATOMIC_ACQUIRE)
/* release: earlier loads and stores stay before it */
#define smp_store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* full fence */
#define smp_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && (n & (n - 1)) == 0;
}
#endif /* __KERNEL__ */

#endif /* _KSOC_COMPAT_H */
