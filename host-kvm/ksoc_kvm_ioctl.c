// SPDX-License-Identifier: GPL-2.0
/* The shared KVM ioctl table, built into this module. */
#include "../common/ksoc_kvm_ioctl.c"
