// SPDX-License-Identifier: GPL-2.0
/*
 * Protocol tests of tools/kvm-soc-ivshmem-server: this program plays the
 * ivshmem clients (what QEMU's ivshmem-doorbell device does on connect)
 * and checks every message, the shared memory and the doorbells the
 * eventfds carry.  The server binary is $KSOC_IVSHMEM_SERVER.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm_soc_ivshmem.h>

#include "kselftest_harness.h"

#define NVEC		2
#define SHM_SIZE	(4 << 20)
#define NOFD		(-2)

struct msg {
	int64_t val;
	int fd;		/* NOFD when the message carried none */
};

struct client {
	int sock;
	int64_t id;
	int shm;
	int peer_fd[NVEC];	/* to ring the other peer */
	int64_t peer_id;	/* -1: no peer announced */
	int own_fd[NVEC];	/* rung by the other peer */
};

/* One message, or -1 on EOF/timeout. */
static int get_msg(int sock, struct msg *m, int timeout_ms)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	uint64_t le;
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	n = recvmsg(sock, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC);
	if (n != sizeof(le))
		return -1;
	m->val = (int64_t)le64toh(le);
	m->fd = NOFD;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&m->fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

/*
 * Connect and read the whole greeting.  Returns 0, or the step that went
 * wrong (1 version, 2 id, 3 shm, 4 peer vectors, 5 own vectors).
 */
static int client_open(struct client *c, const char *path, int64_t want_id)
{
	struct msg m;
	int own = 0, peer = 0;

	memset(c, 0, sizeof(*c));
	c->peer_id = -1;
	c->sock = dial(path);
	if (c->sock < 0)
		return 1;
	if (get_msg(c->sock, &m, 2000) || m.val != 0 || m.fd != NOFD)
		return 1;
	if (get_msg(c->sock, &m, 2000) || m.val != want_id || m.fd != NOFD)
		return 2;
	c->id = m.val;
	if (get_msg(c->sock, &m, 2000) || m.val != -1 || m.fd < 0)
		return 3;
	c->shm = m.fd;
	while (own < NVEC) {
		if (get_msg(c->sock, &m, 2000) || m.fd < 0)
			return 4;
		if (m.val == c->id) {
			c->own_fd[own++] = m.fd;
		} else {
			if (own || peer == NVEC || (c->peer_id >= 0 && c->peer_id != m.val))
				return 4;
			c->peer_id = m.val;
			c->peer_fd[peer++] = m.fd;
		}
	}
	if (c->peer_id >= 0 && peer != NVEC)
		return 4;
	return 0;
}

static void client_close(struct client *c)
{
	int v;

	close(c->sock);
	close(c->shm);
	for (v = 0; v < NVEC; v++) {
		close(c->own_fd[v]);
		if (c->peer_id >= 0)
			close(c->peer_fd[v]);
	}
}

static void ring(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* The count on an eventfd, 0 if none arrived within @ms. */
static uint64_t rung(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1 || read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static int quiet(int sock, int ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };

	return poll(&p, 1, ms) == 0;
}

static const char *server_bin(void)
{
	const char *s = getenv("KSOC_IVSHMEM_SERVER");

	return s ? s : "build/tools/kvm-soc-ivshmem-server";
}

/* Run the server with @argv (NULL-terminated) and wait for it to exit. */
static int run_server_status(char *const argv[])
{
	int st, fd;
	pid_t pid = fork();

	if (!pid) {
		fd = open("/dev/null", O_WRONLY);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

FIXTURE(srv) {
	char dir[64];
	char host[96], soc[96], shm[96], log[96];
	pid_t pid;
};

FIXTURE_SETUP(srv)
{
	char sh[32], ss[128], sc[128], sz[32], nv[8];
	int i, fd;

	snprintf(self->dir, sizeof(self->dir), "/tmp/ksoc-ivsrv.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->host, sizeof(self->host), "%s/host.sock", self->dir);
	snprintf(self->soc, sizeof(self->soc), "%s/soc.sock", self->dir);
	snprintf(self->shm, sizeof(self->shm), "%s/shm", self->dir);
	snprintf(self->log, sizeof(self->log), "%s/log", self->dir);
	snprintf(ss, sizeof(ss), "0:%s", self->host);
	snprintf(sc, sizeof(sc), "1:%s", self->soc);
	snprintf(sz, sizeof(sz), "%d", SHM_SIZE);
	snprintf(nv, sizeof(nv), "%d", NVEC);
	snprintf(sh, sizeof(sh), "256k");
	self->pid = fork();
	ASSERT_LE(0, self->pid);
	if (!self->pid) {
		/* A failed assertion skips the teardown: die with the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(self->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		execl(server_bin(), server_bin(), "-m", self->shm, "-l", sz, "-n", nv,
		      "-c", sh, "-s", ss, "-s", sc, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if (!access(self->soc, F_OK) && !access(self->host, F_OK))
			break;
		usleep(10000);
	}
	ASSERT_EQ(0, access(self->soc, F_OK)) TH_LOG("server did not start (%s)", server_bin());
}

FIXTURE_TEARDOWN(srv)
{
	char cmd[128];

	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("cleanup of %s failed", self->dir);
}

static int log_has(const char *path, const char *what)
{
	char line[256];
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = !!strstr(line, what);
	fclose(f);
	return found;
}

/*
 * A missing peer: the greeting still has its vectors, nothing follows,
 * and a doorbell rung for it waits until it comes.
 */
TEST_F(srv, alone_greeting_and_layout)
{
	struct kvm_soc_ivshmem_hdr *h;
	struct client soc, host;
	struct stat st;

	ASSERT_EQ(0, client_open(&soc, self->soc, 1));
	EXPECT_EQ(0, soc.peer_id);
	EXPECT_TRUE(quiet(soc.sock, 200));
	ASSERT_EQ(0, fstat(soc.shm, &st));
	EXPECT_EQ(SHM_SIZE, st.st_size);
	h = mmap(NULL, KVM_SOC_IVSHMEM_HDR_SIZE, PROT_READ, MAP_SHARED, soc.shm, 0);
	ASSERT_NE(MAP_FAILED, h);
	EXPECT_EQ(KVM_SOC_IVSHMEM_MAGIC, le32toh(h->desc.magic));
	EXPECT_EQ(KVM_SOC_IVSHMEM_VERSION, le32toh(h->desc.version));
	EXPECT_EQ(SHM_SIZE, le64toh(h->desc.shm_size));
	EXPECT_EQ(KVM_SOC_IVSHMEM_HDR_SIZE, le32toh(h->desc.hdr_size));
	EXPECT_EQ(NVEC, le32toh(h->desc.nr_vectors));
	EXPECT_EQ(KVM_SOC_IVSHMEM_HDR_SIZE, le64toh(h->desc.ctrl_offset));
	EXPECT_EQ(256 << 10, le64toh(h->desc.ctrl_size));
	EXPECT_EQ(le64toh(h->desc.ctrl_offset) + le64toh(h->desc.ctrl_size),
		  le64toh(h->desc.pool_offset));
	EXPECT_EQ(SHM_SIZE, le64toh(h->desc.pool_offset) + le64toh(h->desc.pool_size));
	EXPECT_EQ(0, le32toh(h->peer[0].state));
	EXPECT_EQ(0, le32toh(h->peer[1].state));
	munmap(h, KVM_SOC_IVSHMEM_HDR_SIZE);

	ring(soc.peer_fd[1]);
	ASSERT_EQ(0, client_open(&host, self->host, 0));
	EXPECT_EQ(1, rung(host.own_fd[1], 1000)) TH_LOG("the waiting doorbell was lost");
	EXPECT_TRUE(quiet(soc.sock, 200)) TH_LOG("the SoC was told of the host's arrival");
	client_close(&host);
	client_close(&soc);
}

/* Both peers: each has the other's vectors; doorbells go both ways. */
TEST_F(srv, two_peers_ring_each_other)
{
	struct client host, soc;
	int v;

	ASSERT_EQ(0, client_open(&host, self->host, 0));
	EXPECT_EQ(1, host.peer_id);
	ASSERT_EQ(0, client_open(&soc, self->soc, 1));
	EXPECT_EQ(0, soc.peer_id);
	for (v = 0; v < NVEC; v++) {
		/* Each vector is its own doorbell: look at the others first. */
		ring(host.peer_fd[v]);
		ring(host.peer_fd[v]);
		EXPECT_EQ(0, rung(soc.own_fd[(v + 1) % NVEC], 0))
			TH_LOG("vectors share a doorbell");
		EXPECT_EQ(2, rung(soc.own_fd[v], 1000)) TH_LOG("host -> soc vector %d", v);
		ring(soc.peer_fd[v]);
		EXPECT_EQ(0, rung(host.own_fd[(v + 1) % NVEC], 0))
			TH_LOG("vectors share a doorbell");
		EXPECT_EQ(1, rung(host.own_fd[v], 1000)) TH_LOG("soc -> host vector %d", v);
	}
	/* The shared memory is one memory. */
	{
		char *a = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, host.shm, 0);
		char *b = mmap(NULL, SHM_SIZE, PROT_READ, MAP_SHARED, soc.shm, 0);

		ASSERT_NE(MAP_FAILED, a);
		ASSERT_NE(MAP_FAILED, b);
		snprintf(a + SHM_SIZE - 64, 64, "from the host");
		EXPECT_STREQ("from the host", b + SHM_SIZE - 64);
		munmap(a, SHM_SIZE);
		munmap(b, SHM_SIZE);
	}
	EXPECT_TRUE(quiet(host.sock, 100));
	EXPECT_TRUE(quiet(soc.sock, 100));
	client_close(&soc);
	client_close(&host);
}

/*
 * A peer that goes and comes back: the peer that stayed is told nothing
 * (QEMU 10.0's ivshmem corrupts its heap on a disconnect followed by a
 * connect of the same id), its doorbells for the id reach the newcomer,
 * and the memory outlived the peer.
 */
TEST_F(srv, disconnect_and_reconnect)
{
	struct client host, soc;
	char *m;
	int v;

	ASSERT_EQ(0, client_open(&soc, self->soc, 1));
	ASSERT_EQ(0, client_open(&host, self->host, 0));
	m = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, host.shm, 0);
	ASSERT_NE(MAP_FAILED, m);
	snprintf(m + SHM_SIZE / 2, 64, "survives");
	munmap(m, SHM_SIZE);
	client_close(&host);
	usleep(100000);
	EXPECT_TRUE(log_has(self->log, "disconnect 0"));
	EXPECT_TRUE(quiet(soc.sock, 200)) TH_LOG("the SoC was told of the host leaving");

	ASSERT_EQ(0, client_open(&host, self->host, 0));
	EXPECT_EQ(1, host.peer_id);
	EXPECT_TRUE(quiet(soc.sock, 200)) TH_LOG("the SoC was told of the host's return");
	for (v = 0; v < NVEC; v++) {
		ring(soc.peer_fd[v]);
		EXPECT_EQ(1, rung(host.own_fd[v], 1000)) TH_LOG("vector %d", v);
		ring(host.peer_fd[v]);
		EXPECT_EQ(1, rung(soc.own_fd[v], 1000)) TH_LOG("vector %d", v);
	}
	m = mmap(NULL, SHM_SIZE, PROT_READ, MAP_SHARED, host.shm, 0);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_STREQ("survives", m + SHM_SIZE / 2);
	munmap(m, SHM_SIZE);
	client_close(&host);
	client_close(&soc);
}

/* A second client for a taken id is refused; the first is untouched. */
TEST_F(srv, id_in_use_is_refused)
{
	struct client soc, host;
	struct msg m;
	int s;

	ASSERT_EQ(0, client_open(&soc, self->soc, 1));
	s = dial(self->soc);
	ASSERT_LE(0, s);
	EXPECT_EQ(-1, get_msg(s, &m, 2000)) TH_LOG("the intruder got a message");
	close(s);
	EXPECT_TRUE(log_has(self->log, "refuse 1"));
	ASSERT_EQ(0, client_open(&host, self->host, 0));
	EXPECT_EQ(1, host.peer_id);
	ring(host.peer_fd[1]);
	EXPECT_EQ(1, rung(soc.own_fd[1], 1000));
	client_close(&host);
	client_close(&soc);
}

/* Clients never talk: one that sends bytes is dropped, the server lives. */
TEST_F(srv, hostile_client_is_dropped)
{
	struct client host, soc;

	ASSERT_EQ(0, client_open(&host, self->host, 0));
	ASSERT_EQ(0, client_open(&soc, self->soc, 1));
	ASSERT_EQ(8, write(soc.sock, "garbage!", 8));
	usleep(200000);
	EXPECT_TRUE(log_has(self->log, "client sent data"));
	EXPECT_TRUE(quiet(host.sock, 100));
	client_close(&soc);
	ASSERT_EQ(0, client_open(&soc, self->soc, 1)) TH_LOG("the id was not freed");
	ring(host.peer_fd[0]);
	EXPECT_EQ(1, rung(soc.own_fd[0], 1000));
	client_close(&soc);
	client_close(&host);
}

/* The server outlives its clients and stops cleanly on SIGTERM. */
TEST_F(srv, outlives_clients_and_stops_on_sigterm)
{
	struct client host, soc;
	int i, st;

	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, client_open(&host, self->host, 0)) TH_LOG("round %d", i);
		ASSERT_EQ(0, client_open(&soc, self->soc, 1)) TH_LOG("round %d", i);
		client_close(&soc);
		client_close(&host);
	}
	EXPECT_EQ(0, kill(self->pid, 0));
	ASSERT_EQ(0, kill(self->pid, SIGTERM));
	ASSERT_EQ(self->pid, waitpid(self->pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	EXPECT_NE(0, access(self->host, F_OK)) TH_LOG("socket left behind");
	EXPECT_TRUE(log_has(self->log, "stopped"));
}

/* Bad command lines fail with status 1 (2 for usage), no server left. */
TEST(bad_arguments)
{
	char bin[256];
	char *const no_pow2[] = { bin, "-m", "/tmp/ksoc-ivsrv-bad", "-l", "3M",
				  "-s", "0:/tmp/ksoc-ivsrv-bad.sock", NULL };
	char *const no_vec[] = { bin, "-m", "/tmp/ksoc-ivsrv-bad", "-l", "4M", "-n", "0",
				 "-s", "0:/tmp/ksoc-ivsrv-bad.sock", NULL };
	char *const bad_id[] = { bin, "-m", "/tmp/ksoc-ivsrv-bad", "-l", "4M",
				 "-s", "70000:/tmp/ksoc-ivsrv-bad.sock", NULL };
	char *const dup_id[] = { bin, "-m", "/tmp/ksoc-ivsrv-bad", "-l", "4M",
				 "-s", "0:/tmp/ksoc-ivsrv-bad.sock",
				 "-s", "0:/tmp/ksoc-ivsrv-bad2.sock", NULL };
	char *const big_ctrl[] = { bin, "-m", "/tmp/ksoc-ivsrv-bad", "-l", "1M", "-c", "1M",
				   "-s", "0:/tmp/ksoc-ivsrv-bad.sock", NULL };
	char *const no_sock[] = { bin, "-m", "/tmp/ksoc-ivsrv-bad", "-l", "4M", NULL };

	snprintf(bin, sizeof(bin), "%s", server_bin());
	EXPECT_EQ(1, run_server_status(no_pow2));
	EXPECT_EQ(1, run_server_status(no_vec));
	EXPECT_EQ(1, run_server_status(bad_id));
	EXPECT_EQ(1, run_server_status(dup_id));
	EXPECT_EQ(1, run_server_status(big_ctrl));
	EXPECT_EQ(2, run_server_status(no_sock));
	unlink("/tmp/ksoc-ivsrv-bad");
	unlink("/tmp/ksoc-ivsrv-bad.sock");
}

TEST_HARNESS_MAIN
