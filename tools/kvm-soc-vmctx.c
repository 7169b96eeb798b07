// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc-vmctx: the host-side helper process of host-kvm.
 *
 * Stock KVM only accepts ioctls from a thread of the address space that
 * created the VM, and only runs vCPUs from real user threads.  host-kvm
 * therefore starts this program (as a usermode helper, with its context
 * file as the descriptor named on the command line) for its control
 * channel and for each VM.  Every thread of it just enters host-kvm and
 * stays there; the kernel decides what each thread does.  The program has
 * no state, no logic and no policy:
 *
 *   ioctl returns 1      start one more thread (host-kvm needs a vCPU thread)
 *   ioctl returns 2      make an eventfd and pass its number + 1 (or the
 *                        negative errno) when entering again
 *   ioctl returns 0      this thread is done: exit it
 *   ioctl fails, EINTR   a signal was handled (a vCPU kick): enter again
 *   anything else        exit the whole process; host-kvm cleans up
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "ksoc_vmctx.h"

static int ctx_fd;

static void on_kick(int sig)
{
}

static void *enter(void *unused)
{
	pthread_attr_t attr;
	unsigned long arg = 0;
	pthread_t t;
	long r;
	int fd;

	for (;;) {
		r = ioctl(ctx_fd, KSOC_VMCTX_ENTER, arg);
		arg = 0;
		if (r == 2) {
			fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			arg = fd >= 0 ? (unsigned long)fd + 1 : (unsigned long)(long)-errno;
		} else if (r == 1) {
			pthread_attr_init(&attr);
			pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
			pthread_attr_setstacksize(&attr, 64 * 1024);
			if (pthread_create(&t, &attr, enter, NULL))
				_exit(2);
			pthread_attr_destroy(&attr);
		} else if (r == 0) {
			return NULL;
		} else if (errno != EINTR) {
			_exit(1);
		}
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	if (argc != 2)
		return 1;
	ctx_fd = atoi(argv[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick;
	sigaction(SIGUSR1, &sa, NULL);
	enter(NULL);
	return 0;
}
