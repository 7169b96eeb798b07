// SPDX-License-Identifier: GPL-2.0
/* kvm-soc-info: print what /dev/kvm-soc knows of its host. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm_soc.h>

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/kvm-soc";
	struct kvm_soc_info info = { .argsz = sizeof(info) };
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "kvm-soc-info: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	if (ioctl(fd, KVM_SOC_GET_INFO, &info)) {
		fprintf(stderr, "kvm-soc-info: KVM_SOC_GET_INFO: %s\n", strerror(errno));
		return 1;
	}
	printf("%s: transport %s, kvm-soc ABI %u (host %u), features 0x%llx,",
	       dev, info.transport, info.abi_version, info.host_abi_version,
	       (unsigned long long)info.features);
	printf(" host KVM API %u, host heartbeat %llu\n", info.kvm_api_version,
	       (unsigned long long)info.host_heartbeat);
	close(fd);
	return 0;
}
