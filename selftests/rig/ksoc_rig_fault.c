// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only module that misbehaves on purpose, to prove the rig notices.
 * Never part of the normal suite: tools/rig-selftest.sh loads it and
 * expects the rig to report failure.
 *
 *   mode=warn   WARN once at load (the module still loads)
 *   mode=panic  panic at load
 */
#include <linux/bug.h>
#include <linux/module.h>
#include <linux/panic.h>
#include <linux/string.h>

static char *mode = "warn";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "warn or panic");

static int __init ksoc_rig_fault_init(void)
{
	if (!strcmp(mode, "warn")) {
		WARN(1, "ksoc_rig_fault: deliberate warning\n");
		return 0;
	}
	if (!strcmp(mode, "panic"))
		panic("ksoc_rig_fault: deliberate panic\n");
	return -EINVAL;
}

static void __exit ksoc_rig_fault_exit(void)
{
}

module_init(ksoc_rig_fault_init);
module_exit(ksoc_rig_fault_exit);

MODULE_DESCRIPTION("kvm-soc rig self-test: deliberate WARN or panic");
MODULE_LICENSE("GPL");
