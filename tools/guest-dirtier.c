// SPDX-License-Identifier: GPL-2.0
/*
 * Runs inside the rig's Linux guest (statically linked, in its initramfs):
 * keeps MiB of memory dirty for the live-migration tests, and checks it.
 * Each pass first checks that every page still holds the previous pass's
 * stamp, then stamps it with this pass.  A page that migration lost (sent
 * before its last write and never sent again) holds an older stamp on the
 * destination, and the next pass there says so.
 *
 *   guest-dirtier MiB [pause-ms]
 *
 * Prints "KSOC-DIRTY: pass N ok" after each pass; on a bad page prints
 * "KSOC-DIRTY: BAD ..." and exits 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096
#define MAGIC		0x6b736f6364697274ULL	/* "ksocdirt" */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	unsigned long pause_ms = argc > 2 ? strtoul(argv[2], NULL, 0) : 200;
	unsigned long pages = mib << 8, i;
	uint64_t pass, *w;
	uint8_t *mem;
	double t0;

	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("KSOC-DIRTY: mmap");
		return 1;
	}
	for (pass = 1;; pass++) {
		t0 = now();
		for (i = 0; i < pages; i++) {
			w = (uint64_t *)(mem + i * PAGE);
			if (pass > 1 && (w[0] != (MAGIC ^ i) || w[1] != pass - 1 ||
					 w[PAGE / 8 - 1] != pass - 1)) {
				printf("KSOC-DIRTY: BAD page %lu of pass %llu: %#llx %llu %llu\n",
				       i, (unsigned long long)pass,
				       (unsigned long long)w[0], (unsigned long long)w[1],
				       (unsigned long long)w[PAGE / 8 - 1]);
				fflush(stdout);
				return 1;
			}
			w[0] = MAGIC ^ i;
			w[1] = pass;
			w[PAGE / 8 - 1] = pass;
		}
		printf("KSOC-DIRTY: pass %llu ok (%lu MiB in %.0f ms)\n",
		       (unsigned long long)pass, mib, (now() - t0) * 1000);
		fflush(stdout);
		usleep(pause_ms * 1000);
	}
}
