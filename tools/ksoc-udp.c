// SPDX-License-Identifier: GPL-2.0
/*
 * ksoc-udp: self-checking UDP traffic for the I/O backend tests (vhost-net,
 * DPDK vhost-user).  Runs in the Linux guest (static, in its initramfs) and
 * on the backend's side in the rig.
 *
 *   ksoc-udp echo PORT
 *	echo every datagram back to its sender until SIGINT/SIGTERM, then
 *	print "echo: datagrams N bytes B".
 *   ksoc-udp send ADDR PORT COUNT SIZE
 *	send COUNT datagrams of SIZE bytes (at most WINDOW unanswered), each
 *	numbered and filled with a pattern of its number; every answer must
 *	be one of them, unchanged, and each must come back exactly once.
 *	Prints what went and came back; exit 0 only if everything did.
 *   ksoc-udp run ADDR PORT SECONDS
 *	one datagram at a time for at most SECONDS (an answer waited for
 *	200 ms), a progress line each second: ok (answered), lost (not in
 *	time), bad (wrong content).  For a backend killed and restarted
 *	mid-traffic: ends early once 5 answers in a row follow an outage
 *	(3 or more lost in a row).  Exit 0 if nothing came back wrong and
 *	something came back.
 *
 * The peer answers by echoing (ksoc-udp echo) or by swapping addresses
 * and ports (testpmd's 5tswap): either way the answer is the datagram.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAGIC	0x4b534f43u	/* "KSOC" */
#define WINDOW	16
#define HDR	12		/* magic, then the 64-bit number */
#define MAXSZ	65000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(unsigned char *buf, uint64_t seq, size_t size)
{
	uint32_t magic = htonl(MAGIC);
	size_t i;

	memcpy(buf, &magic, 4);
	memcpy(buf + 4, &seq, 8);
	for (i = HDR; i < size; i++)
		buf[i] = (unsigned char)(seq * 131 + i);
}

/* The number of a well-formed datagram of @size, or -1. */
static int64_t check(const unsigned char *buf, ssize_t len, size_t size,
		     uint64_t count)
{
	unsigned char want[MAXSZ];
	uint32_t magic;
	uint64_t seq;

	if (len != (ssize_t)size)
		return -1;
	memcpy(&magic, buf, 4);
	memcpy(&seq, buf + 4, 8);
	if (ntohl(magic) != MAGIC || seq >= count)
		return -1;
	fill(want, seq, size);
	return memcmp(want, buf, size) ? -1 : (int64_t)seq;
}

static int peer(const char *addr, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd;

	sa.sin_port = htons(atoi(port));
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "ksoc-udp: bad address %s\n", addr);
		exit(2);
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("ksoc-udp: socket/connect");
		exit(2);
	}
	return fd;
}

/* Wait up to @ms for a datagram; its length, 0 on timeout, -1 on error. */
static ssize_t recv_wait(int fd, unsigned char *buf, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, ms);

	if (r <= 0)
		return r < 0 && errno != EINTR ? -1 : 0;
	r = recv(fd, buf, MAXSZ, 0);
	/* ICMP port unreachable (nobody answering yet) reads as an error. */
	if (r < 0 && errno == ECONNREFUSED)
		return 0;
	return r;
}

static int do_echo(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET }, from;
	unsigned long long n = 0, bytes = 0;
	unsigned char buf[MAXSZ];
	struct pollfd p[2];
	sigset_t sigs;
	int fd, sfd;

	/*
	 * SIGINT and SIGTERM end it, read from a signalfd beside the socket
	 * (SIGINT first made deliverable: a shell's background job has it
	 * ignored, and an ignored signal never becomes pending).
	 */
	signal(SIGINT, SIG_DFL);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, 0);
	sa.sin_port = htons(atoi(port));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (sfd < 0 || fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("ksoc-udp: echo: bind");
		return 2;
	}
	printf("echo: listening on %s\n", port);
	fflush(stdout);
	p[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t len;

		if (poll(p, 2, -1) <= 0)
			continue;
		if (p[1].revents)
			break;
		len = recvfrom(fd, buf, sizeof(buf), 0,
			       (struct sockaddr *)&from, &fl);
		if (len < 0)
			continue;
		n++;
		bytes += len;
		if (sendto(fd, buf, len, 0, (struct sockaddr *)&from, fl) != len)
			perror("ksoc-udp: echo: sendto");
	}
	printf("echo: datagrams %llu bytes %llu\n", n, bytes);
	return 0;
}

static int do_send(const char *addr, const char *port, uint64_t count,
		   size_t size)
{
	unsigned char buf[MAXSZ], out[MAXSZ];
	unsigned long long rbytes = 0, sbytes = 0;
	uint64_t sent = 0, got = 0, bad = 0, dup = 0;
	unsigned char *seen = calloc(count ? count : 1, 1);
	double t0, last;
	int fd;

	if (size < HDR || size > MAXSZ || !seen) {
		fprintf(stderr, "ksoc-udp: size must be %d..%d\n", HDR, MAXSZ);
		return 2;
	}
	fd = peer(addr, port);
	t0 = now();
	last = t0;
	while (got + bad < count) {
		ssize_t len;
		int64_t seq;

		while (sent < count && sent - got < WINDOW) {
			fill(out, sent, size);
			if (send(fd, out, size, 0) != (ssize_t)size) {
				if (errno == ECONNREFUSED)
					continue;
				perror("ksoc-udp: send");
				return 2;
			}
			sent++;
			sbytes += size;
		}
		len = recv_wait(fd, buf, 100);
		if (len < 0) {
			perror("ksoc-udp: recv");
			return 2;
		}
		if (len == 0) {
			if (now() - last > 5)
				break;	/* nothing for 5 s: the rest is lost */
			continue;
		}
		last = now();
		rbytes += len;
		seq = check(buf, len, size, count);
		if (seq < 0)
			bad++;
		else if (seen[seq]++)
			dup++;
		else
			got++;
	}
	/* One line: the tests compare it whole. */
	printf("KSOC-UDP: sent %llu datagrams %llu bytes, ",
	       (unsigned long long)sent, sbytes);
	printf("received %llu datagrams %llu bytes, ",
	       (unsigned long long)(got + bad + dup), rbytes);
	printf("%llu bad, %llu duplicate, %llu missing, %.0f ms\n",
	       (unsigned long long)bad, (unsigned long long)dup,
	       (unsigned long long)(count - got), (now() - t0) * 1000);
	return got == count && !bad && !dup ? 0 : 1;
}

static int do_run(const char *addr, const char *port, int seconds)
{
	unsigned char buf[MAXSZ], out[MAXSZ];
	unsigned long long ok = 0, lost = 0, bad = 0;
	unsigned int in_row = 0, lost_in_row = 0, outage = 0;
	const size_t size = 1000;
	uint64_t seq = 0;
	double t0 = now(), tick = t0 + 1;
	int fd = peer(addr, port);

	while (now() - t0 < seconds) {
		double sent_at;
		ssize_t len;

		fill(out, seq, size);
		if (send(fd, out, size, 0) != (ssize_t)size &&
		    errno != ECONNREFUSED) {
			perror("ksoc-udp: send");
			return 2;
		}
		sent_at = now();
		/* Wait for this one; older late answers are skipped. */
		for (;;) {
			int left = 200 - (int)((now() - sent_at) * 1000);

			len = left > 0 ? recv_wait(fd, buf, left) : 0;
			if (len <= 0) {
				lost++;
				in_row = 0;
				if (++lost_in_row >= 3)
					outage = 1;
				break;
			}
			if (check(buf, len, size, UINT64_MAX) == (int64_t)seq) {
				ok++;
				in_row++;
				lost_in_row = 0;
				break;
			}
			if (check(buf, len, size, UINT64_MAX) < 0) {
				bad++;
				break;
			}
		}
		seq++;
		if (outage && in_row >= 5) {
			printf("KSOC-UDP: answers are back after an outage\n");
			break;
		}
		if (now() >= tick) {
			printf("KSOC-UDP: t=%d ok=%llu lost=%llu bad=%llu\n",
			       (int)(now() - t0 + 0.5), ok, lost, bad);
			fflush(stdout);
			tick += 1;
		}
	}
	printf("KSOC-UDP: run done ok=%llu lost=%llu bad=%llu\n", ok, lost, bad);
	return ok && !bad ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "echo"))
		return do_echo(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv[2], argv[3], strtoull(argv[4], NULL, 0),
			       strtoul(argv[5], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "run"))
		return do_run(argv[2], argv[3], atoi(argv[4]));
	fprintf(stderr, "usage: ksoc-udp echo PORT | send ADDR PORT COUNT SIZE |");
	fprintf(stderr, " run ADDR PORT SECONDS\n");
	return 2;
}
