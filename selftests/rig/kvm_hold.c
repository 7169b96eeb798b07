// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_hold: keep two idle KVM VMs for as long as the rig runs tests.
 *
 * KVM flips static keys when the first VM appears and the last one goes
 * (preempt notifiers), and when the first vCPU without an in-kernel LAPIC
 * or with a software-disabled one appears and the last goes.  Each flip
 * patches kernel text with int3 breakpoints on every CPU.  Under TCG that
 * has crashed the rig once ("Oops: int3" in finish_task_switch(), right at
 * a preempt-notifier site) after thousands of flips by the suite's VM
 * create/destroy cycles.  Holding one VM of each kind keeps those keys
 * enabled, so the tests never flip them.  Nothing here runs a vCPU.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

static int hold(int kvm, int irqchip)
{
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);

	if (vm < 0)
		return -1;
	if (irqchip && ioctl(vm, KVM_CREATE_IRQCHIP, 0))
		return -1;
	return ioctl(vm, KVM_CREATE_VCPU, 0) < 0 ? -1 : 0;
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0 || hold(kvm, 0) || hold(kvm, 1)) {
		perror("kvm_hold");
		return 1;
	}
	printf("kvm_hold: holding 2 VMs\n");
	fflush(stdout);
	pause();
	return 0;
}
