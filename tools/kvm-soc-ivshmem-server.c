// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc-ivshmem-server: the server QEMU's ivshmem-doorbell devices
 * connect to, for the ivshmem transport's two machines (host and SoC).
 *
 * It speaks QEMU's ivshmem client-server protocol (docs/specs/
 * ivshmem-spec.rst in QEMU's source): every message is one little-endian
 * int64, some with one file descriptor (SCM_RIGHTS).  On connect a client
 * is sent
 *
 *	0                      protocol version
 *	ID                     its own peer id
 *	-1  + shm fd           the shared memory
 *	P   + fd, N times      for every other peer id P: its N vectors
 *	ID  + fd, N times      its own N vectors (eventfds it is woken by)
 *
 * and nothing after that.
 *
 * Unlike QEMU's contrib server, peer ids are fixed by the socket a client
 * connects to (-s ID:PATH, one listening socket per id): the host machine
 * is always 0 and the SoC 1, so either may restart and come back under the
 * same id.  A second client on a socket whose id is taken is refused.
 *
 * The vectors belong to the id, not to the connection: the server makes
 * each id's eventfds once, hands every client all of them in its greeting
 * (a peer not connected yet finds the doorbells rung for it when it comes)
 * and never sends the protocol's later connect and disconnect messages.
 * Liveness is the layout header's business (each side's peer line), and
 * QEMU 10.0's ivshmem cannot take a disconnect followed by a connect of
 * the same id: close_peer_eventfds() frees the peer's eventfd array and
 * the next process_msg_connect() writes into the freed array, corrupting
 * the heap of the machine that stayed (seen in the rig as glibc's
 * "malloc(): unaligned fastbin chunk detected" abort of the host machine).
 * Fixed ids are what trigger it; the contrib server hands out new ids.
 *
 * The server creates the shared memory file, writes the layout header
 * (linux/kvm_soc_ivshmem.h) and outlives its clients; it stops on SIGTERM
 * or SIGINT.
 *
 *   kvm-soc-ivshmem-server -m FILE -l SIZE [-n VECTORS] [-c CTRL_SIZE]
 *                          -s ID:PATH [-s ID:PATH ...] [-p PIDFILE]
 *
 * Logs one line per event on stderr: "connect ID", "disconnect ID (why)",
 * "refuse ID (why)" (tests read them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/kvm_soc_ivshmem.h>

#define MAX_PEERS	8
#define MAX_ID		65535

struct peer {
	unsigned int id;
	const char *path;
	int lfd;			/* listening socket */
	int sock;			/* the connected client, or -1 */
	int efd[KVM_SOC_IVSHMEM_MAX_VECTORS];	/* the id's vectors, for good */
};

static struct peer peers[MAX_PEERS];
static unsigned int nr_peers, nr_vectors = 2;
static int shm_fd = -1;

static void vlog(const char *fmt, va_list ap)
{
	fputs("kvm-soc-ivshmem-server: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void logf_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
	exit(1);
}

/* One protocol message: a little-endian int64 and at most one fd. */
static int send_msg(int sock, int64_t val, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	uint64_t le = htole64((uint64_t)val);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(le) ? 0 : -1;
}

/* Hand @to the vectors of peer id @p. */
static int send_vectors(int to, const struct peer *p)
{
	unsigned int v;

	for (v = 0; v < nr_vectors; v++)
		if (send_msg(to, p->id, p->efd[v]))
			return -1;
	return 0;
}

/* The client of id @p is gone; its vectors stay with the id. */
static void drop(struct peer *p, const char *why)
{
	if (p->sock < 0)
		return;
	close(p->sock);
	p->sock = -1;
	logf_("disconnect %u (%s)", p->id, why);
}

static void accept_one(struct peer *p)
{
	struct timeval tv = { .tv_sec = 2 };
	unsigned int i;
	int s;

	s = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return;
	if (p->sock >= 0) {
		/* The id is taken: the newcomer gets nothing, not even a version. */
		logf_("refuse %u (id in use)", p->id);
		close(s);
		return;
	}
	/* A client that stops reading must not stall the server. */
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (send_msg(s, 0, -1) || send_msg(s, p->id, -1) || send_msg(s, -1, shm_fd))
		goto fail;
	for (i = 0; i < nr_peers; i++)
		if (&peers[i] != p && send_vectors(s, &peers[i]))
			goto fail;
	if (send_vectors(s, p))
		goto fail;
	p->sock = s;
	logf_("connect %u", p->id);
	return;

fail:
	logf_("refuse %u (the greeting could not be sent)", p->id);
	close(s);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	}
	if (*end || !v)
		die("bad size '%s'", s);
	return v;
}

/* Create the shared memory and write its layout header. */
static void shm_init(const char *path, uint64_t size, uint64_t ctrl_size)
{
	struct kvm_soc_ivshmem_hdr *h;
	uint64_t pool;

	if (size & (size - 1) || size < (1 << 20))
		die("shm size %" PRIu64 " must be a power of two of at least 1 MiB (a PCI BAR)",
		    size);
	if (ctrl_size % KVM_SOC_AREA_ALIGN ||
	    ctrl_size > size - KVM_SOC_IVSHMEM_HDR_SIZE - KVM_SOC_AREA_ALIGN)
		die("control window size %" PRIu64 ": not a multiple of %u or too big",
		    ctrl_size, KVM_SOC_AREA_ALIGN);
	shm_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (shm_fd < 0)
		die("%s: %s", path, strerror(errno));
	/* Start from zeroes: nothing of an earlier run survives. */
	if (ftruncate(shm_fd, 0) || ftruncate(shm_fd, size))
		die("%s: truncate to %" PRIu64 ": %s", path, size, strerror(errno));
	h = mmap(NULL, KVM_SOC_IVSHMEM_HDR_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED, shm_fd, 0);
	if (h == MAP_FAILED)
		die("%s: mmap: %s", path, strerror(errno));
	pool = KVM_SOC_IVSHMEM_HDR_SIZE + ctrl_size;
	h->desc.version = htole32(KVM_SOC_IVSHMEM_VERSION);
	h->desc.shm_size = htole64(size);
	h->desc.hdr_size = htole32(KVM_SOC_IVSHMEM_HDR_SIZE);
	h->desc.nr_vectors = htole32(nr_vectors);
	h->desc.ctrl_offset = htole64(KVM_SOC_IVSHMEM_HDR_SIZE);
	h->desc.ctrl_size = htole64(ctrl_size);
	h->desc.pool_offset = htole64(pool);
	h->desc.pool_size = htole64(size - pool);
	/* The magic last: a reader that sees it sees the rest. */
	__atomic_store_n(&h->desc.magic, htole32(KVM_SOC_IVSHMEM_MAGIC),
			 __ATOMIC_RELEASE);
	munmap(h, KVM_SOC_IVSHMEM_HDR_SIZE);
}

static void add_socket(const char *arg)
{
	struct peer *p;
	unsigned long id;
	char *end;
	unsigned int i;

	if (nr_peers == MAX_PEERS)
		die("at most %d sockets", MAX_PEERS);
	id = strtoul(arg, &end, 10);
	if (end == arg || *end != ':' || id > MAX_ID || !end[1])
		die("bad socket '%s': want ID:PATH with ID 0..%d", arg, MAX_ID);
	for (i = 0; i < nr_peers; i++)
		if (peers[i].id == id)
			die("peer id %lu given twice", id);
	p = &peers[nr_peers++];
	p->id = id;
	p->path = end + 1;
	p->lfd = -1;
	p->sock = -1;
	memset(p->efd, -1, sizeof(p->efd));
}

static void make_vectors(struct peer *p)
{
	unsigned int v;

	for (v = 0; v < nr_vectors; v++) {
		p->efd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->efd[v] < 0)
			die("eventfd: %s", strerror(errno));
	}
}

static void listen_on(struct peer *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->path) >=
	    (int)sizeof(sa.sun_path))
		die("socket path too long: %s", p->path);
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0)
		die("socket: %s", strerror(errno));
	unlink(p->path);
	if (bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(p->lfd, 4))
		die("%s: %s", p->path, strerror(errno));
}

static void print_help(void)
{
	fprintf(stderr,
		"usage: kvm-soc-ivshmem-server -m FILE -l SIZE [-n VECTORS] [-c CTRL_SIZE]\n"
		"                              -s ID:PATH [-s ID:PATH ...] [-p PIDFILE]\n"
		"  -m FILE       shared memory file to create (e.g. under /dev/shm)\n"
		"  -l SIZE       its size: a power of two, at least 1M (suffixes k, M, G)\n"
		"  -n VECTORS    doorbell vectors per peer (1..%d, default 2)\n"
		"  -c CTRL_SIZE  control window size (default 1M)\n"
		"  -s ID:PATH    listen on PATH for the client that is peer ID\n"
		"  -p PIDFILE    write the server's pid there once it listens\n",
		KVM_SOC_IVSHMEM_MAX_VECTORS);
	exit(2);
}

int main(int argc, char **argv)
{
	struct pollfd pfd[2 * MAX_PEERS + 1];
	const char *shm = NULL, *pidfile = NULL;
	uint64_t size = 0, ctrl = 1 << 20;
	struct signalfd_siginfo si;
	sigset_t sigs;
	int sfd, stop = 0;
	unsigned int i, n;
	char junk[64];
	FILE *f;
	int c;

	while ((c = getopt(argc, argv, "m:l:n:c:s:p:h")) != -1) {
		switch (c) {
		case 'm':
			shm = optarg;
			break;
		case 'l':
			size = parse_size(optarg);
			break;
		case 'c':
			ctrl = parse_size(optarg);
			break;
		case 'n':
			nr_vectors = strtoul(optarg, NULL, 10);
			if (!nr_vectors || nr_vectors > KVM_SOC_IVSHMEM_MAX_VECTORS)
				die("vectors must be 1..%d", KVM_SOC_IVSHMEM_MAX_VECTORS);
			break;
		case 's':
			add_socket(optarg);
			break;
		case 'p':
			pidfile = optarg;
			break;
		default:
			print_help();
		}
	}
	if (!shm || !size || !nr_peers || optind != argc)
		print_help();
	shm_init(shm, size, ctrl);
	for (i = 0; i < nr_peers; i++) {
		make_vectors(&peers[i]);
		listen_on(&peers[i]);
	}
	/* SIGTERM and SIGINT end the loop below through a signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	if (pidfile) {
		f = fopen(pidfile, "w");
		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
			die("%s: %s", pidfile, strerror(errno));
	}
	logf_("listening: %s, %" PRIu64 " bytes, %u vectors", shm, size, nr_vectors);

	while (!stop) {
		n = 0;
		for (i = 0; i < nr_peers; i++) {
			pfd[n++] = (struct pollfd){ .fd = peers[i].lfd, .events = POLLIN };
			pfd[n++] = (struct pollfd){ .fd = peers[i].sock, .events = POLLIN };
		}
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (i = 0; i < nr_peers; i++) {
			struct pollfd *l = &pfd[2 * i], *s = &pfd[2 * i + 1];
			ssize_t r;

			if (s->fd >= 0 && s->revents) {
				/* Clients never talk: bytes or EOF both end the session. */
				r = recv(s->fd, junk, sizeof(junk), MSG_DONTWAIT);
				if (r > 0)
					drop(&peers[i], "client sent data");
				else if (r == 0 || (errno != EAGAIN && errno != EINTR))
					drop(&peers[i], "hung up");
			}
			if (l->revents & POLLIN)
				accept_one(&peers[i]);
		}
		if (pfd[n - 1].revents & POLLIN)
			stop = read(sfd, &si, sizeof(si)) == sizeof(si);
	}
	for (i = 0; i < nr_peers; i++) {
		drop(&peers[i], "server stopping");
		close(peers[i].lfd);
		unlink(peers[i].path);
	}
	logf_("stopped");
	return 0;
}
